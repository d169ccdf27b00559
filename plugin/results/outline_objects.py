"""The objects of the query's tumour outline: a SEG of the mask, a TID 1500 report of
its compartments' volumes, and the similar-case TID 1500 report that references the SEG."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom import Dataset

from plugin.errors import OutlineError
from plugin.results.facts import ResultHit
from plugin.results.result_series import ResultUids
from plugin.results.segmentation import (
    build_measurement_report,
    build_segmentation,
    compartment_volumes_ml,
)
from plugin.results.similar_cases import build_similar_case_report

__all__ = ["QueryOutline", "build_outline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueryOutline:
    """The query's tumour mask on the study grid and the series it is written on.

    Attributes
    ----------
    mask
        uint8 BraTS label mask (X, Y, Z) on the study grid.
    affine_ras
        The study grid's voxel-to-RAS affine.
    series
        The study's reference series (the grid's source), in highdicom frame order.
    mask_source
        ``"given"`` (a SEG in the study) or ``"segmenter"``.
    """

    mask: np.ndarray
    affine_ras: np.ndarray
    series: Sequence[Dataset]
    mask_source: str


def build_outline(
    outline: QueryOutline,
    model_version: str,
    *,
    uid_seed: str | None = None,
    now: dt.datetime | None = None,
    hits: Sequence[ResultHit] = (),
    per_diagnosis: dict[str, list[ResultHit]] | None = None,
) -> list[Dataset]:
    """``[SEG, TID 1500 measurement report]`` of the query's tumour, or ``[]`` when the
    mask cannot be written on its series (logged); with ``hits`` (or ``per_diagnosis``),
    the similar-case TID 1500 report that references the SEG follows."""
    when = now or dt.datetime.now().replace(microsecond=0)
    uids = ResultUids(uid_seed)
    try:
        seg = build_segmentation(
            outline.mask,
            outline.affine_ras,
            outline.series,
            model_version=model_version,
            mask_source=outline.mask_source,
            uid=uids,
            now=when,
        )
    except OutlineError as exc:
        log.warning(
            "no SEG of the tumour: %s",
            exc,
            extra={"study_uid": str(outline.series[0].StudyInstanceUID) if outline.series else ""},
        )
        return []
    volumes = compartment_volumes_ml(outline.mask, outline.affine_ras)
    measurements = build_measurement_report(
        seg, volumes, outline.series, model_version=model_version, uid=uids, now=when
    )
    if not hits and not any((per_diagnosis or {}).values()):
        return [seg, measurements]
    similar = build_similar_case_report(
        hits,
        per_diagnosis,
        seg,
        outline.series,
        model_version=model_version,
        uid=uids,
        now=when,
    )
    return [seg, measurements, similar]
