"""Step 2, answer: the study's tumour, the similar cases, and the result set to send.

The search is the one the API and ``simcase search`` use
(:func:`indexer.search_service.find_similar`). A study that is not a brain MR, or has
no tumour, is answered with a short report saying so.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from dicom_conversion import ConversionError, StudyVolumes, load_study
from dicom_conversion.sequences import MRSequence
from indexer.errors import NoTumourError
from indexer.pipeline import ModelSet
from indexer.search_service import SearchRequest, find_similar
from indexer.store import SearchHit, VectorStore
from indexer.thumbnails import tumour_slice_image
from plugin.errors import OutlineError
from plugin.processing.build import (
    PendingOutline,
    ResultSetParts,
    build_result_set,
    location,
    result_set,
)
from plugin.processing.load import LoadedStudy, skipped_facts
from plugin.results import QueryFacts, QueryOutline
from plugin.results.facts import sequence_decision_texts
from plugin.results.segmentation import source_series

__all__ = ["MONTAGE_TILE", "PER_DIAGNOSIS", "TOP_K", "Answer", "answer"]

log = logging.getLogger(__name__)

#: Results shown per query: the overall top k and the top n of each diagnosis.
TOP_K = 5
PER_DIAGNOSIS = 2
MONTAGE_TILE = 256


@dataclass(frozen=True)
class Answer:
    """The result set for one study and the cases it shows.

    ``main`` is built completely (the montage and the report, the report last);
    ``outline`` builds the outline objects (SEG and TID 1500 reports) after ``main`` is
    sent (``None``: no outline, or one the report says cannot be written).
    """

    main: list[Dataset]
    shown_case_ids: list[str]
    outline: PendingOutline | None = None

    def complete(self) -> list[Dataset]:
        """Every object, the outline objects built now, in recording order (the report
        last)."""
        return result_set(self.main, self.outline.build() if self.outline else [])


@dataclass
class _Findings:
    query: QueryFacts
    hits: list[SearchHit] = field(default_factory=list)
    per_diagnosis: dict[str, list[SearchHit]] = field(default_factory=dict)
    query_image: np.ndarray | None = None
    outline: QueryOutline | None = None


def answer(
    loaded: LoadedStudy,
    store: VectorStore,
    models: ModelSet,
    *,
    uid_seed: str,
    supersedes: str | None = None,
    include_seg: bool = True,
    now: dt.datetime | None = None,
    lap: Callable[[str], None] = lambda stage: None,
) -> Answer:
    """Search for the study's similar cases and build the montage and the report (the
    outline objects are built later: :attr:`Answer.outline`).

    ``models`` are those of the version searches use; ``lap(stage)`` is called after each
    stage (``load``, ``segment``, ``embed``, ``search``, ``build``).
    """
    findings = _find(loaded, store, models, include_seg, lap)
    query = replace(
        findings.query,
        extra=(*findings.query.extra, *skipped_facts(loaded.datasets, loaded.skipped)),
    )
    shown = [*findings.hits, *(h for group in findings.per_diagnosis.values() for h in group)]
    built = build_result_set(
        ResultSetParts(
            query=query,
            hits=findings.hits,
            per_diagnosis=findings.per_diagnosis,
            source_datasets=loaded.datasets,
            model_version=models.model_version,
            query_image=findings.query_image,
            outline=findings.outline,
            thumbnails=store.thumbnails(sorted({h.case_id for h in shown})),
        ),
        uid_seed=uid_seed,
        supersedes=supersedes,
        now=now or dt.datetime.now().replace(microsecond=0),
        lap=lap,
    )
    return Answer(built.main, [h.case_id for h in shown], built.outline)


def _find(
    loaded: LoadedStudy,
    store: VectorStore,
    models: ModelSet,
    include_seg: bool,
    lap: Callable[[str], None],
) -> _Findings:
    study_instance_uid = loaded.study_instance_uid
    try:
        study = load_study([ds for ds in loaded.datasets if ds.get("Modality") in ("MR", "SEG")])
        lap("load")
        request = SearchRequest(
            k=TOP_K, per_diagnosis=PER_DIAGNOSIS, exclude_patient=loaded.patient_id
        )
        found = find_similar(study, store, models, request, lap=lap)
    except ConversionError as exc:
        return _Findings(
            QueryFacts(study_instance_uid=study_instance_uid, is_brain_mr=False, reason=str(exc))
        )
    except NoTumourError:
        return _Findings(
            QueryFacts(
                study_instance_uid=study_instance_uid,
                tumour_found=False,
                reason="no tumour was found in this study",
            )
        )
    embedded = found.embedded
    slice_index = int(np.argmax((embedded.mask > 0).sum(axis=(0, 1))))
    findings = _Findings(
        _query_facts(study_instance_uid, study, embedded.facts, slice_index, embedded.mask_source),
        found.result.hits,
        found.result.per_diagnosis,
        tumour_slice_image(study, embedded.mask, MONTAGE_TILE),
    )
    if include_seg:
        findings.outline = _outline(study, embedded.mask, embedded.mask_source, loaded.datasets)
    lap("search")
    return findings


def _query_facts(
    study_instance_uid: str, study: StudyVolumes, facts: dict[str, Any], k: int, mask_source: str
) -> QueryFacts:
    return QueryFacts(
        study_instance_uid=study_instance_uid,
        sequences_used=tuple(s.value for s in study.arrays),
        missing_sequences=tuple(s.value for s in study.missing),
        sequence_decisions=sequence_decision_texts(study.decisions),
        tumour_volume_ml=float(facts["volume_ml"]),
        location=location(facts),
        tumour_slice=k,
        extra=(
            (
                "tumour outline from",
                "a SEG in the study" if mask_source == "given" else "simcase segmentation model",
            ),
            ("lesions", str(facts.get("lesion_count", "?"))),
            ("enhancing volume (ml)", f"{float(facts.get('enhancing_ml', 0.0)):.1f}"),
            ("oedema volume (ml)", f"{float(facts.get('oedema_ml', 0.0)):.1f}"),
        ),
    )


def _reference_series_uid(study: StudyVolumes) -> str | None:
    """The series whose grid is the study grid (``load_study``'s reference: T1C, else the
    first sequence present)."""
    if not study.arrays:
        return None
    reference = (
        MRSequence.T1C
        if MRSequence.T1C in study.arrays
        else next(s for s in MRSequence.ordered() if s in study.arrays)
    )
    for decision in study.decisions:
        if decision.selected and decision.sequence is reference:
            return decision.series_instance_uid
    return None


def _outline(
    study: StudyVolumes, mask: np.ndarray, mask_source: str, datasets: list[Dataset]
) -> QueryOutline | None:
    series_uid = _reference_series_uid(study)
    if series_uid is None:
        return None
    try:
        series = source_series(datasets, series_uid)
    except OutlineError as exc:
        log.warning("no SEG of the tumour: %s", exc)
        return None
    return QueryOutline(mask, study.affine, series, mask_source)
