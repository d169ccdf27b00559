"""Bulk import of archive cases: discover, load, embed, store — resumable and parallel.

Sources: a BraTS-layout folder with ``cases.csv`` (the given seg files are used as
masks), or a folder tree of DICOM studies with an optional CSV of diagnoses keyed by
StudyInstanceUID or AccessionNumber. A broken case is reported and skipped; it never
aborts the run.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dicom_conversion import StudyVolumes, load_study, read_brats_case, read_dicom_folder
from indexer.errors import IndexerError
from indexer.pipeline import ModelSet, embed_study, load_models, register_models
from indexer.store import CaseEntry, VectorStore
from models.corpus import parse_age, parse_diagnosis, parse_sex, read_cases_csv

__all__ = [
    "CaseSource",
    "ImportSummary",
    "discover",
    "discover_brats",
    "discover_dicom",
    "embed_source",
    "index_sources",
    "load_source",
]

log = logging.getLogger(__name__)


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "indexed": self.indexed,
            "already_indexed": self.already_indexed,
            "failed": [{"case_id": c, "reason": r} for c, r in self.failed],
            "skipped": [{"item": c, "reason": r} for c, r in self.skipped],
        }


def discover_brats(root: Path, summary: ImportSummary, source: str = "brats") -> list[CaseSource]:
    """Cases of a BraTS-layout folder, labelled by its ``cases.csv``."""
    if not (root / "cases.csv").is_file():
        raise IndexerError(f"{root} has no cases.csv (case_id,diagnosis[,patient_id,age,sex])")
    found: list[CaseSource] = []
    for record in read_cases_csv(root, strict=False):
        if not record.case_id or not record.diagnosis:
            summary.skipped.append((record.case_id or "?", "row without case_id or diagnosis"))
            continue
        case_dir = root / record.case_id
        if not case_dir.is_dir():
            summary.skipped.append((record.case_id, f"no folder {case_dir.name} beside cases.csv"))
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


def discover_dicom(
    root: Path, summary: ImportSummary, labels: Path | None = None, source: str = "dicom"
) -> list[CaseSource]:
    """DICOM studies below ``root``, labelled by a CSV keyed by StudyInstanceUID or
    AccessionNumber (columns ``study_instance_uid`` or ``accession_number``,
    ``diagnosis``, optional ``case_id``, ``patient_id``, ``age``, ``sex``)."""
    import pydicom

    table: dict[str, dict[str, str]] = {}
    if labels is not None:
        with labels.open(newline="") as f:
            for row in csv.DictReader(f):
                for key in ("study_instance_uid", "accession_number"):
                    if row.get(key):
                        table[row[key].strip()] = row
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


def load_source(uri: str, study_instance_uid: str | None = None) -> StudyVolumes:
    """The study volumes of a case source (BraTS case folder or DICOM study folder).

    A DICOM folder holding several studies is narrowed to ``study_instance_uid``.
    """
    path = Path(uri)
    if not path.exists():
        raise IndexerError(f"case source {uri} does not exist")
    if path.is_dir() and (any(path.glob("*.nii.gz")) or any(path.glob("*.nii"))):
        return read_brats_case(path)
    contents = read_dicom_folder(path)
    datasets = contents.datasets
    if study_instance_uid:
        datasets = [d for d in datasets if d.get("StudyInstanceUID") == study_instance_uid]
    if not datasets:
        raise IndexerError(f"no DICOM instances in {uri}")
    return load_study(datasets)


def embed_source(source: CaseSource, models: ModelSet) -> tuple[CaseEntry, np.ndarray]:
    """Load, mask, embed one case (no database access: safe in a worker process)."""
    study = load_source(source.uri, source.metadata.get("study_instance_uid"))
    embedded = embed_study(study, models)
    entry = source.entry(
        embedded.facts,
        embedded.mask_source == "given",
        study.study_instance_uid,
        embedded.thumbnail,
        embedded.outline,
    )
    return entry, embedded.vector


_PROCESS_MODELS: ModelSet | None = None


def _init_process(model_dir: str | None) -> None:
    global _PROCESS_MODELS
    _PROCESS_MODELS = load_models(Path(model_dir) if model_dir else None, threads=1)


def _embed_in_process(source: CaseSource) -> tuple[CaseEntry, np.ndarray]:
    assert _PROCESS_MODELS is not None
    return embed_source(source, _PROCESS_MODELS)


def index_sources(
    sources: Iterable[CaseSource],
    store: VectorStore,
    models: ModelSet,
    *,
    workers: int = 1,
    model_dir: Path | None = None,
    summary: ImportSummary | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportSummary:
    """Index cases not yet indexed under the current model version, then refit and
    store the version's archive map when any case was added.

    ``progress(done, total, case_id)`` is called after every case.
    """
    summary = summary or ImportSummary()
    todo = list(sources)
    summary.total += len(todo)
    version = models.model_version
    register_models(store, models)
    done_ids = store.indexed_case_ids(version)
    pending = [s for s in todo if s.case_id not in done_ids]
    summary.already_indexed += len(todo) - len(pending)
    count = summary.already_indexed

    def finish(case_id: str, result: tuple[CaseEntry, np.ndarray] | Exception) -> None:
        nonlocal count
        count += 1
        if isinstance(result, Exception):
            reason = f"{type(result).__name__}: {result}"
            summary.failed.append((case_id, reason))
            log.warning("case skipped", extra={"case_id": case_id, "reason": reason})
        else:
            entry, vector = result
            store.upsert(entry, version, vector)
            summary.indexed += 1
        if progress:
            progress(count, len(todo), case_id)

    if workers <= 1:
        for source in pending:
            try:
                outcome: tuple[CaseEntry, np.ndarray] | Exception = embed_source(source, models)
            except Exception as exc:  # one broken case never aborts the run
                outcome = exc
            finish(source.case_id, outcome)
    else:
        with ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_process,
            initargs=(str(model_dir) if model_dir else None,),
        ) as pool:
            futures = {pool.submit(_embed_in_process, s): s.case_id for s in pending}
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as exc:
                    outcome = exc
                finish(futures[future], outcome)
    if summary.indexed:
        store.refresh_archive_map(version)
    return summary
