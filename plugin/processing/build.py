"""The result set of one answer: montage, tumour outline (SEG and its report), SR.

Every object is built before any is sent or written: a failure while building leaves
nothing half-delivered. The set is recorded with the report last (later results name it
as the one they supersede) and sent in one batch with the montage and the report first
(what the radiologist reads does not wait for the outline objects' transfer).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset

from indexer.store import SearchHit
from plugin.results import QueryFacts, QueryOutline, ResultHit, build_results
from plugin.results.outline_objects import build_outline

__all__ = [
    "ResultSet",
    "ResultSetParts",
    "build_outline_safely",
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
class ResultSet:
    """A built result set: the montage and the report (``main``, the report last) and
    the outline objects (SEG and TID 1500 reports; none when there is no outline)."""

    main: list[Dataset]
    outline: list[Dataset]

    @property
    def recorded(self) -> list[Dataset]:
        """The set in recording order (:func:`result_set`: the report last)."""
        return result_set(self.main, self.outline)

    @property
    def sending(self) -> list[Dataset]:
        """The set in sending order: the montage and the report, then the outline
        objects (one batch, the same objects as :attr:`recorded`)."""
        return [*self.main, *self.outline]


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
    """Every object of the result set, built before any is sent."""
    query = parts.query
    hits = [_result_hit(h) for h in parts.hits]
    groups = {d: [_result_hit(h) for h in g] for d, g in parts.per_diagnosis.items()}
    outline_objects: list[Dataset] = []
    if parts.outline is not None:
        outline_objects, note = build_outline_safely(
            parts.outline, parts.model_version, uid_seed, now, hits, groups or None
        )
        if note:
            query = replace(query, extra=(*query.extra, ("tumour outline (SEG)", note)))
        lap("outline")
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
    return ResultSet(objects, outline_objects)


def build_outline_safely(
    outline: QueryOutline,
    version: str,
    uid_seed: str,
    when: dt.datetime,
    hits: Sequence[ResultHit] = (),
    per_diagnosis: dict[str, list[ResultHit]] | None = None,
) -> tuple[list[Dataset], str | None]:
    """The outline objects (SEG and its measurement report), or none and the reason.

    The outline is an extra: when its values cannot be encoded (a ``nan``
    SliceThickness, say) the result set goes out without it, and the report says why.
    """
    try:
        objects = build_outline(
            outline, version, uid_seed=uid_seed, now=when, hits=hits, per_diagnosis=per_diagnosis
        )
    except Exception as exc:  # data-driven encoding failures of many kinds
        log.warning("tumour outline not written: %s", exc)
        return [], f"not written ({type(exc).__name__}: {str(exc)[:120]})"
    return objects, None if objects else "not written (the mask does not fit its series)"


def result_set(objects: list[Dataset], outline_objects: list[Dataset]) -> list[Dataset]:
    """One result set in sending order: montage, outline objects, and the report last
    (later results name it as the one they supersede)."""
    return [*objects[:-1], *outline_objects, objects[-1]]
