"""Labelled BraTS-layout folders: ``cases.csv`` plus one folder per case."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dicom_conversion import ConversionError, StudyVolumes, read_brats_case
from models.errors import TrainingDataError

__all__ = [
    "REQUIRED_COLUMNS",
    "CaseRecord",
    "case_record",
    "folder_digest",
    "iter_studies",
    "parse_age",
    "parse_diagnosis",
    "parse_sex",
    "read_cases_csv",
]


#: The columns training needs in ``cases.csv``; age, sex and any other column are optional.
REQUIRED_COLUMNS = ("case_id", "diagnosis", "patient_id")
_KNOWN_COLUMNS = frozenset((*REQUIRED_COLUMNS, "age", "sex"))


@dataclass(frozen=True)
class CaseRecord:
    """One row of ``cases.csv``.

    Attributes:
        case_id: The case's folder name (stripped).
        diagnosis: Lower-cased and stripped (``""`` when the row gives none).
        patient_id: The patient's id, or the case id when the row gives none (each case
            its own patient).
        age: Whole years, or None when blank or not a number.
        sex: ``"F"``, ``"M"`` or ``"O"`` (first letter of the cell), else None.
        metadata: Every other non-empty column, as written.
        patient_listed: False when ``patient_id`` is the case id standing in for a
            blank cell.
    """

    case_id: str
    diagnosis: str
    patient_id: str
    age: int | None = None
    sex: str | None = None
    metadata: dict[str, str] = field(default_factory=dict, compare=False)
    patient_listed: bool = True


def parse_diagnosis(value: str | None) -> str:
    """A diagnosis cell: stripped and lower-cased (``""`` for none)."""
    return (value or "").strip().lower()


def parse_age(value: str | None) -> int | None:
    """An age cell in whole years; None when blank or not a number."""
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_sex(value: str | None) -> str | None:
    """A sex cell as ``"F"``, ``"M"`` or ``"O"`` (its first letter); None otherwise."""
    v = (value or "").strip().upper()[:1]
    return v if v in ("F", "M", "O") else None


def case_record(row: dict[str, str | None]) -> CaseRecord:
    """One ``cases.csv`` row (column name to cell) as a :class:`CaseRecord`."""
    case_id = (row.get("case_id") or "").strip()
    patient_id = (row.get("patient_id") or "").strip()
    return CaseRecord(
        case_id=case_id,
        diagnosis=parse_diagnosis(row.get("diagnosis")),
        patient_id=patient_id or case_id,
        age=parse_age(row.get("age")),
        sex=parse_sex(row.get("sex")),
        metadata={k: v for k, v in row.items() if k and k not in _KNOWN_COLUMNS and v},
        patient_listed=bool(patient_id),
    )


def read_cases_csv(folder: Path) -> list[CaseRecord]:
    """The cases of a labelled folder's ``cases.csv``, in file order, for training and
    evaluation: the columns :data:`REQUIRED_COLUMNS` must be there and the file must list
    a case. (Importing an archive checks its ``cases.csv`` line by line elsewhere, in
    the indexer.)

    Args:
        folder: The folder holding ``cases.csv``.

    Raises:
        TrainingDataError: no ``cases.csv``, a required column is missing or no case is
            listed.
    """
    path = Path(folder) / "cases.csv"
    if not path.is_file():
        raise TrainingDataError(f"{folder} has no cases.csv (case_id,diagnosis,patient_id)")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(REQUIRED_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise TrainingDataError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        records = [case_record(row) for row in reader]
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
