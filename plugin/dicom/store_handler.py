"""The listener's C-STORE handler: check, spool (fsynced), journal, then acknowledge.

An instance that can never be used is refused with 0xC210 and the reason (see
:mod:`plugin.dicom.instance_checks`); none is written while the spool's file system is
short of ``min_free_mb`` (0xA700). Success goes back only once the file is fsynced in
the spool; its journal row follows in a batch (:mod:`plugin.dicom.recorder`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import cast

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import evt
from pynetdicom.dimse_primitives import C_STORE

from dicom_conversion.fast_reading import read_dataset_bytes
from indexer.intake import ReceivedInstance
from plugin.dicom.file_meta import file_header
from plugin.dicom.instance_checks import instance_problem, uid_text
from plugin.dicom.recorder import JournalRecorder
from plugin.dicom.spool import Spool
from plugin.dicom.study_tracker import StudyTracker

__all__ = [
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_OUT_OF_RESOURCES",
    "StoreHandler",
    "failure",
]

log = logging.getLogger(__name__)

#: C-STORE failure (0xC210, "cannot understand"): the data set could not be parsed or
#: cannot be used (see :func:`plugin.dicom.instance_checks.instance_problem`).
STATUS_CANNOT_UNDERSTAND = 0xC210
#: C-STORE failure ("out of resources"): the instance could not be written or recorded,
#: or the spool's file system is below its minimum free space.
STATUS_OUT_OF_RESOURCES = 0xA700
_LITTLE_ENDIAN = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def failure(status: int, reason: str) -> Dataset:
    """A C-STORE failure status with ``reason`` as its ErrorComment (64 characters)."""
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = reason[:64]
    return ds


class StoreHandler:
    """The ``EVT_C_STORE`` handler of :class:`plugin.dicom.listener.DicomListener`.

    Parameters
    ----------
    spool, recorder, tracker
        Where the file goes, the batched journal, the study-complete timer.
    min_free_mb
        Free space (MiB) the spool's file system keeps (0: no check).
    """

    def __init__(
        self, spool: Spool, recorder: JournalRecorder, tracker: StudyTracker, min_free_mb: int
    ) -> None:
        self.spool = spool
        self.recorder = recorder
        self.tracker = tracker
        self.min_free_mb = min_free_mb

    def disk_space_problem(self, size: int) -> str | None:
        """Why an instance of ``size`` bytes cannot be kept (the spool's file system would
        fall below ``min_free_mb``), or ``None``."""
        minimum = self.min_free_mb * 1024 * 1024
        if minimum == 0:
            return None
        free = self.spool.free_bytes()
        if free - size >= minimum:
            return None
        return f"spool disk full: {free // 2**20} MB free, {self.min_free_mb} MB kept"

    def __call__(self, event: evt.Event) -> int | Dataset:
        calling_ae = event.assoc.requestor.ae_title
        try:
            ds = received_dataset(event)
        except Exception as exc:
            log.warning("C-STORE from %s refused: unreadable data set: %s", calling_ae, exc)
            return failure(STATUS_CANNOT_UNDERSTAND, f"cannot read data set: {exc}")
        # Refused at the door, with a reason the sender can log: what the pipeline could
        # never use (UIDs missing or not UIDs, unknown character set, empty image,
        # non-finite geometry). Kept: every other instance of any storage SOP class.
        problem = instance_problem(ds)
        if problem is not None:
            log.warning("C-STORE from %s refused: %s", calling_ae, problem)
            return failure(STATUS_CANNOT_UNDERSTAND, problem)
        instance = _instance(ds, calling_ae)
        uids = {"study_uid": instance.study_instance_uid, "sop_uid": instance.sop_instance_uid}
        try:
            header = file_header(
                instance.sop_class_uid,
                instance.sop_instance_uid,
                str(event.context.transfer_syntax),
            )
            stream = cast(C_STORE, event.request).DataSet
            if not isinstance(stream, BytesIO):
                raise TypeError("C-STORE request without a data set stream")
            short = self.disk_space_problem(len(header) + stream.getbuffer().nbytes)
            if short is not None:
                log.error("C-STORE from %s refused: %s", calling_ae, short, extra=uids)
                return failure(STATUS_OUT_OF_RESOURCES, short)
            path = self.spool.write(
                instance.study_instance_uid,
                instance.series_instance_uid,
                instance.sop_instance_uid,
                [header, stream.getbuffer()],
            )
            self.recorder.add(replace(instance, path=path))
        except Exception as exc:
            log.error("C-STORE could not be kept: %s", exc, extra=uids)
            return failure(STATUS_OUT_OF_RESOURCES, f"cannot store: {type(exc).__name__}")
        self.tracker.instance_received(instance.study_instance_uid, id(event.assoc))
        log.debug("stored", extra=uids)
        return 0x0000


def received_dataset(event: evt.Event) -> Dataset:
    """The C-STORE's data set, its elements left undecoded until read.

    Little-endian data sets are walked with :func:`read_dataset_bytes` (a few element
    headers read with ``struct``); any other, and any it cannot walk, go through
    pynetdicom's decoding (pydicom's general reader), which raises when unreadable.
    """
    stream = cast(C_STORE, event.request).DataSet
    syntax = event.context.transfer_syntax
    if isinstance(stream, BytesIO) and syntax in _LITTLE_ENDIAN:
        ds = read_dataset_bytes(stream.getvalue(), implicit_vr=syntax == ImplicitVRLittleEndian)
        if ds is not None:
            return ds
    return event.dataset


def _instance(ds: Dataset, calling_ae: str) -> ReceivedInstance:
    """The journal row of a checked data set (its path is set once it is written)."""
    try:
        modality = str(ds.get("Modality") or "").strip() or None
    except Exception:
        modality = None
    return ReceivedInstance(
        sop_instance_uid=uid_text(ds, "SOPInstanceUID"),
        study_instance_uid=uid_text(ds, "StudyInstanceUID"),
        series_instance_uid=uid_text(ds, "SeriesInstanceUID"),
        sop_class_uid=uid_text(ds, "SOPClassUID"),
        path=Path(),
        modality=modality,
        calling_ae=calling_ae,
    )
