"""The listener's start-up scan: spooled instances without a journal row.

A crash between the acknowledgement (file fsynced) and the commit of its batch leaves a
file without a row; a crash during the write leaves a file that cannot be read (never
acknowledged). The first are journalled, the second removed.
"""

from __future__ import annotations

import logging

import pydicom
from pydicom.errors import InvalidDicomError

from indexer.intake import ReceivedInstance
from plugin.dicom.journal import InstanceJournal
from plugin.dicom.spool import Spool

__all__ = ["recover_spool"]

log = logging.getLogger(__name__)


def recover_spool(spool: Spool, journal: InstanceJournal) -> set[str]:
    """Journal the spooled instances that have no row; remove unreadable files.

    Returns the StudyInstanceUIDs of the instances journalled.
    """
    known = journal.known_paths()
    found: list[ReceivedInstance] = []
    for path in spool.instances():
        if str(path) in known:
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            instance = ReceivedInstance(
                sop_instance_uid=str(ds.SOPInstanceUID),
                study_instance_uid=str(ds.StudyInstanceUID),
                series_instance_uid=str(ds.SeriesInstanceUID),
                sop_class_uid=str(ds.SOPClassUID),
                path=path,
                modality=str(ds.get("Modality") or "") or None,
            )
        except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError) as exc:
            log.warning("removing unreadable spool file %s: %s", path.name, exc)
            path.unlink(missing_ok=True)
            continue
        found.append(instance)
    if found:
        journal.record_many(found)
        log.info("journalled %d spooled instances without a row", len(found))
    return {i.study_instance_uid for i in found}
