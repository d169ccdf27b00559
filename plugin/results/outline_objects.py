"""The objects of the query's tumour outline: a SEG of the mask, a TID 1500 report of
its compartments' volumes, and the similar-case TID 1500 report that references the SEG."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom import Dataset
from pydicom.multival import MultiValue

from dicom_conversion import SegmentationError, check_source_frames
from dicom_conversion.seg import label_counts
from plugin.errors import OutlineError
from plugin.results.facts import ResultHit
from plugin.results.result_series import ResultUids
from plugin.results.segmentation import (
    COMPARTMENTS,
    build_measurement_report,
    build_segmentation,
    compartment_volumes_ml,
)
from plugin.results.similar_cases import build_similar_case_report

__all__ = ["NOT_FITTING", "QueryOutline", "build_outline", "outline_refusal"]

log = logging.getLogger(__name__)

#: Why :func:`build_outline` wrote nothing: the mask is empty or needs resampling.
NOT_FITTING = "the mask does not fit its series"
#: The series' numbers that the SEG's geometry is written from (all must be finite).
_GEOMETRY = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
_THICKNESS = ("SliceThickness", "SpacingBetweenSlices")


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

    @property
    def study_uid(self) -> str:
        """The StudyInstanceUID of the series (for logs; empty when there is none)."""
        return str(self.series[0].StudyInstanceUID) if self.series else ""


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


def outline_refusal(outline: QueryOutline) -> str | None:
    """Why the outline objects of ``outline`` cannot be built, found without building
    them (``None``: they can be).

    The checks of :func:`build_outline` that depend on the data: a non-finite number in
    the series' geometry (highdicom cannot encode it; ``"ValueError: ..."``), an empty
    mask or one whose grid does not map onto the series' frames (:data:`NOT_FITTING`).
    """
    for ds in outline.series:
        for keyword in (*_GEOMETRY, *_THICKNESS):
            value = ds.get(keyword)
            if value is not None and value != "" and not _finite(value):
                return f"ValueError: {keyword} of the series is not a finite number"
    known = {c.label for c in COMPARTMENTS}
    if not any(label in known for label in label_counts(outline.mask)):
        return NOT_FITTING
    try:
        check_source_frames(outline.mask.shape, outline.affine_ras, outline.series)
    except SegmentationError:
        return NOT_FITTING
    return None


def _finite(value: object) -> bool:
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    try:
        return all(math.isfinite(float(v)) for v in values)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
