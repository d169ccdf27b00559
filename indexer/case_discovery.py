"""Finding archive cases to import: a BraTS-layout folder labelled by its ``cases.csv``,
or a folder tree of DICOM studies labelled by a CSV keyed by StudyInstanceUID or
AccessionNumber; what is skipped, and why, goes into the :class:`ImportSummary`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.cases_csv import LABEL_KEYS, CasesCsv, read_cases_file, read_labels_file
from indexer.errors import IndexerError
from indexer.store import CaseEntry
from models.corpus import parse_age, parse_diagnosis, parse_sex

__all__ = ["CaseSource", "ImportSummary", "discover", "discover_brats", "discover_dicom"]


@dataclass(frozen=True)
class CaseSource:
    """Where one archive case's images are, and what is known about it."""

    case_id: str
    uri: str
    diagnosis: str
    patient_id: str | None = None
    age: int | None = None
    sex: str | None = None
    source: str = "archive"
    metadata: dict[str, Any] = field(default_factory=dict)

    def entry(
        self,
        facts: dict[str, Any],
        given_mask: bool,
        study_instance_uid: str | None,
        thumbnail: bytes | None = None,
        outline: bytes | None = None,
    ) -> CaseEntry:
        return CaseEntry(
            case_id=self.case_id,
            diagnosis=self.diagnosis,
            patient_id=self.patient_id,
            source=self.source,
            source_uri=self.uri,
            study_instance_uid=study_instance_uid,
            age=self.age,
            sex=self.sex,
            given_mask=given_mask,
            metadata=self.metadata,
            tumour=facts,
            thumbnail=thumbnail,
            outline=outline,
        )


@dataclass
class ImportSummary:
    """What a bulk import did."""

    total: int = 0
    indexed: int = 0
    already_indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Line numbers of the malformed lines of ``cases.csv`` or of the labels CSV (each
    #: also in ``skipped``), and that file.
    malformed_lines: list[int] = field(default_factory=list)
    malformed_file: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "indexed": self.indexed,
            "already_indexed": self.already_indexed,
            "failed": [{"case_id": c, "reason": r} for c, r in self.failed],
            "skipped": [{"item": c, "reason": r} for c, r in self.skipped],
            "malformed_lines": self.malformed_lines,
        }


#: Longest case id (the admin API's limit too).
MAX_CASE_ID = 128


def _read_listing(root: Path) -> CasesCsv:
    path = root / "cases.csv"
    if not path.is_file():
        raise IndexerError(f"{root} has no cases.csv (case_id,diagnosis[,patient_id,age,sex])")
    return read_cases_file(path)


def _case_folder_problem(root: Path, case_id: str) -> str | None:
    """Why ``case_id`` names no case folder inside ``root`` (None when it does): not a
    plain folder name, no such folder, or a folder or file that leaves ``root`` by a
    symbolic link."""
    if (
        case_id in (".", "..")
        or len(case_id) > MAX_CASE_ID
        or any(c in case_id for c in "/\\\0")
        or not case_id.isprintable()
    ):
        return f"case_id is not a folder name of at most {MAX_CASE_ID} characters"
    case_dir = root / case_id
    inside = root.resolve()
    try:
        if not case_dir.is_dir():
            return f"no folder {case_id} beside cases.csv"
        for path in (case_dir, *case_dir.iterdir()):
            if not path.resolve().is_relative_to(inside):
                return f"{path.relative_to(root)} is a link leaving the folder"
    except OSError as exc:
        return f"cannot read the folder {case_id}: {exc.strerror}"
    return None


def discover_brats(root: Path, summary: ImportSummary, source: str = "brats") -> list[CaseSource]:
    """Cases of a BraTS-layout folder, labelled by its ``cases.csv``; a row whose case
    id is not a folder name, or whose folder (or a file in it) is a link leaving
    ``root``, is skipped."""
    found: list[CaseSource] = []
    listing = _read_listing(root)
    summary.malformed_file = listing.path
    for bad in listing.malformed:
        summary.skipped.append((bad.case_id, f"cases.csv line {bad.line}: {bad.problem}"))
        summary.malformed_lines.append(bad.line)
    for listed in listing.cases:
        record = listed.record
        problem = _case_folder_problem(root, record.case_id)
        case_dir = root / record.case_id
        if problem is not None:
            summary.skipped.append((record.case_id[:MAX_CASE_ID], problem))
            continue
        found.append(
            CaseSource(
                case_id=record.case_id,
                uri=str(case_dir.resolve()),
                diagnosis=record.diagnosis,
                patient_id=record.patient_id if record.patient_listed else None,
                age=record.age,
                sex=record.sex,
                source=source,
                metadata=dict(record.metadata),
            )
        )
    return found


def _dicom_study_dirs(root: Path) -> Iterator[Path]:
    """Folders that directly hold DICOM files (one study each, or a parent of series)."""
    for dirpath, _, filenames in os.walk(root):
        if any(_looks_like_dicom(Path(dirpath) / n) for n in filenames[:20]):
            yield Path(dirpath)


def _looks_like_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def _labels_table(labels: Path, summary: ImportSummary) -> dict[str, dict[str, str]]:
    """The labels CSV's rows by study UID and accession number; its malformed lines go
    to ``summary`` (skipped, and by number in ``malformed_lines``)."""
    listing = read_labels_file(labels)
    summary.malformed_file = labels
    for bad in listing.malformed:
        summary.skipped.append((bad.case_id, f"{labels.name} line {bad.line}: {bad.problem}"))
        summary.malformed_lines.append(bad.line)
    table: dict[str, dict[str, str]] = {}
    for _, row in listing.rows:
        for key in LABEL_KEYS:
            if row.get(key, "").strip():
                table[row[key].strip()] = row
    return table


def discover_dicom(
    root: Path, summary: ImportSummary, labels: Path | None = None, source: str = "dicom"
) -> list[CaseSource]:
    """DICOM studies below ``root``, labelled by a CSV keyed by StudyInstanceUID or
    AccessionNumber (columns ``study_instance_uid`` or ``accession_number``,
    ``diagnosis``, optional ``case_id``, ``patient_id``, ``age``, ``sex``)."""
    import pydicom

    table = _labels_table(labels, summary) if labels is not None else {}
    folders: dict[str, list[Path]] = {}
    first_of: dict[str, Any] = {}
    for folder in _dicom_study_dirs(root):
        first = next((p for p in sorted(folder.iterdir()) if _looks_like_dicom(p)), None)
        if first is None:
            continue
        try:
            ds = pydicom.dcmread(first, stop_before_pixels=True)
        except Exception as exc:
            summary.skipped.append((str(folder), f"unreadable DICOM: {exc}"))
            continue
        uid = str(ds.get("StudyInstanceUID", ""))
        if uid:
            folders.setdefault(uid, []).append(folder)
            first_of.setdefault(uid, ds)
    studies = {
        uid: (Path(os.path.commonpath(dirs)), first_of[uid]) for uid, dirs in folders.items()
    }
    found: list[CaseSource] = []
    for uid, (folder, ds) in sorted(studies.items()):
        label = table.get(uid) or table.get(str(ds.get("AccessionNumber", "")))
        if label is None or not parse_diagnosis(label.get("diagnosis")):
            summary.skipped.append((uid, "no diagnosis for this study in the labels CSV"))
            continue
        found.append(
            CaseSource(
                case_id=(label.get("case_id") or "").strip() or uid,
                uri=str(folder.resolve()),
                diagnosis=parse_diagnosis(label.get("diagnosis")),
                patient_id=(label.get("patient_id") or str(ds.get("PatientID", ""))) or None,
                age=parse_age(label.get("age")),
                sex=parse_sex(label.get("sex") or str(ds.get("PatientSex", ""))),
                source=source,
                metadata={"study_instance_uid": uid},
            )
        )
    return found


def discover(root: Path, summary: ImportSummary, labels: Path | None = None) -> list[CaseSource]:
    """A BraTS-layout folder (it has cases.csv) or a DICOM tree."""
    if (root / "cases.csv").is_file() and labels is None:
        return discover_brats(root, summary)
    return discover_dicom(root, summary, labels)
