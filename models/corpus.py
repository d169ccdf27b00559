"""Labelled BraTS-layout folders: ``cases.csv`` plus one folder per case."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dicom_conversion import ConversionError, StudyVolumes, read_brats_case
from models.errors import TrainingDataError

__all__ = ["CaseRecord", "folder_digest", "iter_studies", "read_cases_csv"]


@dataclass(frozen=True)
class CaseRecord:
    """One row of ``cases.csv``."""

    case_id: str
    diagnosis: str
    patient_id: str


def read_cases_csv(folder: Path) -> list[CaseRecord]:
    """The cases of a labelled folder (``cases.csv``: case_id, diagnosis, patient_id).

    Raises:
        TrainingDataError: no ``cases.csv``, or a required column is missing.
    """
    path = Path(folder) / "cases.csv"
    if not path.is_file():
        raise TrainingDataError(f"{folder} has no cases.csv (case_id,diagnosis,patient_id)")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        missing = {"case_id", "diagnosis", "patient_id"} - columns
        if missing:
            raise TrainingDataError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        records = [
            CaseRecord(row["case_id"], row["diagnosis"], row["patient_id"] or row["case_id"])
            for row in reader
        ]
    if not records:
        raise TrainingDataError(f"{path} lists no case")
    return records


def _case_dir(folder: Path, record: CaseRecord) -> Path:
    """The folder of a listed case; TrainingDataError when it is missing."""
    case_dir = Path(folder) / record.case_id
    if not case_dir.is_dir():
        raise TrainingDataError(f"case {record.case_id} is listed but {case_dir} is missing")
    return case_dir


def iter_studies(
    folder: Path, records: list[CaseRecord]
) -> Iterator[tuple[CaseRecord, StudyVolumes]]:
    """Read each listed case (with its ``-seg`` mask when present).

    Raises:
        TrainingDataError: a listed case folder is missing or unreadable.
    """
    for record in records:
        case_dir = _case_dir(folder, record)
        try:
            study = read_brats_case(case_dir)
        except ConversionError as error:
            raise TrainingDataError(f"case {record.case_id}: {error}") from error
        yield record, study


def folder_digest(folder: Path) -> str:
    """sha256 of a labelled folder's content: ``cases.csv`` and every file of its cases.

    Names relative to the folder and the bytes of each file go in, in sorted order, so
    the digest does not depend on where the folder is: a model card records it for the
    training data, and a regenerated corpus can be checked against it.

    Raises:
        TrainingDataError: as :func:`read_cases_csv`, or a listed case folder is missing.
    """
    folder = Path(folder)
    records = read_cases_csv(folder)
    digest = hashlib.sha256()
    files = [folder / "cases.csv"]
    for record in records:
        files += sorted(p for p in _case_dir(folder, record).rglob("*") if p.is_file())
    for path in files:
        name = path.relative_to(folder).as_posix().encode()
        digest.update(len(name).to_bytes(4, "big") + name)
        content = path.read_bytes()
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()
