"""Bulk import of archive cases: discover, load, embed, store — resumable and parallel.

Sources (found by :mod:`indexer.case_discovery`): a BraTS-layout folder with
``cases.csv`` (the given seg files are used as masks), or a folder tree of DICOM studies
with an optional CSV of diagnoses keyed by StudyInstanceUID or AccessionNumber. A broken
case is reported and skipped; it never aborts the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from dicom_conversion import StudyVolumes, load_study, read_brats_case, read_dicom_folder
from dicom_conversion.log_refs import name_ref
from indexer.case_discovery import (
    CaseSource,
    ImportSummary,
    discover,
    discover_brats,
    discover_dicom,
)
from indexer.errors import IndexerError
from indexer.pipeline import ModelSet, embed_study, load_models, register_models
from indexer.store import CaseEntry, VectorStore

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
            log.warning(  # an archive's case id may be a patient's; the reason may quote a path
                "case skipped",
                extra={"case": name_ref(case_id), "error": type(result).__name__},
            )
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
