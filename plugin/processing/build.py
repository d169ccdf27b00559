"""The result set of one answer: montage and report, then the tumour outline (SEG and
its two TID 1500 reports).

The montage and the report are built first and go out in one batch of their own
(nothing of that batch is sent before all of it is built). The outline objects are built
after that batch is sent and go out in a second batch (:class:`PendingOutline`), so the
report does not wait for them. What would make them unbuildable is checked before the
report is built (:func:`~plugin.results.outline_objects.outline_refusal`), so the report
says so when they will not come. The set is recorded with the report last (later results
name it as the one they supersede).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from indexer.store import SearchHit
from plugin.errors import OutlineError
from plugin.results import QueryFacts, QueryOutline, ResultHit, build_results
from plugin.results.outline_objects import NOT_FITTING, build_outline, outline_refusal

__all__ = [
    "PendingOutline",
    "ResultSet",
    "ResultSetParts",
    "build_result_set",
    "location",
    "result_set",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResultSetParts:
    """What a result set is made of."""

    query: QueryFacts
    hits: list[SearchHit]
    per_diagnosis: dict[str, list[SearchHit]]
    source_datasets: list[Dataset]
    model_version: str
    query_image: np.ndarray | None = None
    outline: QueryOutline | None = None
    #: PNG thumbnails of the shown cases, by case id.
    thumbnails: dict[str, bytes] | None = None


@dataclass(frozen=True)
class PendingOutline:
    """The outline objects of a result set, to build after its report is sent (with the
    UIDs and times they would have had in one batch)."""

    outline: QueryOutline
    model_version: str
    uid_seed: str
    now: dt.datetime
    hits: list[ResultHit]
    per_diagnosis: dict[str, list[ResultHit]] | None

    def build(self) -> list[Dataset]:
        """``[SEG, measurement report, similar-case report]``; raises what
        :func:`build_outline` raises, and :class:`OutlineError` when it writes nothing."""
        objects = build_outline(
            self.outline,
            self.model_version,
            uid_seed=self.uid_seed,
            now=self.now,
            hits=self.hits,
            per_diagnosis=self.per_diagnosis,
        )
        if not objects:
            raise OutlineError(NOT_FITTING)
        return objects


@dataclass(frozen=True)
class ResultSet:
    """The montage and the report (``main``, the report last), and the outline objects
    still to build (``None`` when there is no outline or it cannot be built)."""

    main: list[Dataset]
    outline: PendingOutline | None = None


def location(tumour: dict[str, Any]) -> str | None:
    """Hemisphere and lobe of a tumour, in words (None when unknown)."""
    parts = [str(tumour.get("hemisphere") or ""), str(tumour.get("lobe") or "")]
    text = " ".join(p for p in parts if p and p != "None")
    return text or None


def _result_hit(hit: SearchHit) -> ResultHit:
    volume = hit.tumour.get("volume_ml")
    return ResultHit(
        rank=hit.rank,
        case_id=hit.case_id,
        diagnosis=hit.diagnosis,
        similarity=hit.similarity,
        tumour_volume_ml=float(volume) if volume is not None else None,
        location=location(hit.tumour),
        study_instance_uid=hit.study_instance_uid if hit.source in ("pacs", "dicom") else None,
    )


def _decode_png(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def build_result_set(
    parts: ResultSetParts,
    *,
    uid_seed: str,
    supersedes: str | None,
    now: dt.datetime,
    lap: Callable[[str], None] = lambda stage: None,
) -> ResultSet:
    """The montage and the report, built before any is sent, and the outline objects to
    build after them (the report says when the outline cannot be built)."""
    query = parts.query
    hits = [_result_hit(h) for h in parts.hits]
    groups = {d: [_result_hit(h) for h in g] for d, g in parts.per_diagnosis.items()}
    pending: PendingOutline | None = None
    if parts.outline is not None:
        refusal = outline_refusal(parts.outline)
        if refusal is None:
            pending = PendingOutline(
                parts.outline, parts.model_version, uid_seed, now, hits, groups or None
            )
        else:
            log.warning(
                "tumour outline not written (%s)",
                refusal.split(":")[0],
                extra={"study_uid": parts.outline.study_uid},
            )
            note = ("tumour outline (SEG)", f"not written ({refusal})")
            query = replace(query, extra=(*query.extra, note))
    objects = build_results(
        query,
        hits,
        per_diagnosis=groups or None,
        source_datasets=parts.source_datasets,
        model_version=parts.model_version,
        query_image=parts.query_image,
        hit_images={cid: _decode_png(png) for cid, png in (parts.thumbnails or {}).items()},
        supersedes=supersedes,
        uid_seed=uid_seed,
        now=now,
    )
    lap("build")
    return ResultSet(objects, pending)


def result_set(objects: list[Dataset], outline_objects: list[Dataset]) -> list[Dataset]:
    """One result set in recording order: montage, outline objects, and the report last
    (later results name it as the one they supersede)."""
    return [*objects[:-1], *outline_objects, objects[-1]]
