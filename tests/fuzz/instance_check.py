"""The check the atheris harness (:mod:`tests.fuzz.instance_reading`) runs on every
input, importable without atheris: read the bytes as the listener and worker read an
instance, screen it, and build a volume of it with a valid second slice of its series.

Allowed outcomes: ``unreadable`` (:class:`~dicom_conversion.errors.UnreadableFileError`),
``refused`` (a problem named by ``instance_problem``, which never raises), ``not
loaded`` (a :class:`~dicom_conversion.ConversionError`), ``loaded``. Anything raised is
a finding.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import pydicom
from pydicom import Dataset

from dicom_conversion import ConversionError, load_series
from dicom_conversion.errors import UnreadableFileError
from dicom_conversion.files import read_dicom_file
from plugin.dicom.instance_checks import fill_study_attributes, instance_problem, repair_dates

__all__ = ["check_instance", "second_slice", "seed_instances"]


@cache
def seed_instances() -> tuple[bytes, bytes]:
    """Two valid slices of one generated MR series, as Part 10 files: the first is the
    fuzzer's seed, the second completes its series."""
    from tests.unit.plugin.samples import mr_series

    out = []
    root = "1.2.826.0.1.3680043.10.511.15"  # fixed UIDs: every process seeds alike
    series = mr_series(
        2,
        study_uid=f"{root}.1",
        series_uid=f"{root}.2",
        frame_of_reference_uid=f"{root}.3",
        seed=15,
    )
    for ds in series:
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out[0], out[1]


@cache
def second_slice() -> Dataset:
    return pydicom.dcmread(io.BytesIO(seed_instances()[1]))


def check_instance(data: bytes, path: Path) -> str:
    """Reads ``data`` (written to ``path``) as the listener and worker do; returns the
    outcome's kind, raises on a finding."""
    path.write_bytes(data)
    try:
        ds = read_dicom_file(path)
    except UnreadableFileError:
        return "unreadable"
    problem = instance_problem(ds)
    if problem is not None:
        return "refused"
    repair_dates(ds)
    fill_study_attributes(ds)
    try:
        load_series([ds, second_slice()])
    except ConversionError:
        return "not loaded"
    return "loaded"
