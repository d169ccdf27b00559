"""Tumour facts shown with every result: volumes, centroid, side, lobe, lesion count."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.errors import EmptyMaskError, InvalidStudyError
from models.lesions import count_lesions
from models.study_arrays import StudyLike, bounding_box, study_shape, voxel_spacing

__all__ = ["TumourFacts", "lobe_by_rule", "tumour_facts"]

#: BraTS labels of the three compartments.
NECROTIC, OEDEMA, ENHANCING = 1, 2, 3
#: A centroid closer than this to the brain's mid-sagittal plane is "midline".
MIDLINE_MM = 5.0


@dataclass(frozen=True)
class TumourFacts:
    """What the tumour looks like, in numbers.

    Attributes:
        volume_ml: whole tumour (labels 1, 2, 3).
        necrotic_ml: label 1.
        oedema_ml: label 2.
        enhancing_ml: label 3.
        core_ml: tumour core, labels 1 and 3.
        centroid_ras_mm: whole-tumour centroid in RAS+ mm (NIfTI convention).
        centroid_lps_mm: the same in DICOM patient coordinates (LPS).
        hemisphere: ``"left"``, ``"right"`` or ``"midline"`` (patient's side).
        lobe: approximate lobe by a position rule (:func:`lobe_by_rule`).
        lesion_count: separate masses (:func:`models.lesions.count_lesions`; at least 1).
    """

    volume_ml: float
    necrotic_ml: float
    oedema_ml: float
    enhancing_ml: float
    core_ml: float
    centroid_ras_mm: tuple[float, float, float]
    centroid_lps_mm: tuple[float, float, float]
    hemisphere: str
    lobe: str
    lesion_count: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        out = asdict(self)
        out["centroid_ras_mm"] = list(self.centroid_ras_mm)
        out["centroid_lps_mm"] = list(self.centroid_lps_mm)
        return out


def lobe_by_rule(anterior: float, superior: float) -> str:
    """Approximate lobe from the position inside the brain's bounding box.

    Args:
        anterior: 0 at the back of the brain, 1 at the front.
        superior: 0 at the bottom of the brain, 1 at the top.

    Returns:
        ``"cerebellum"``, ``"frontal"``, ``"occipital"``, ``"temporal"`` or
        ``"parietal"``. A coarse rule, not an atlas: it ignores the central sulcus
        and the Sylvian fissure's real course.
    """
    if superior < 0.3 and anterior < 0.35:
        return "cerebellum"
    if anterior > 0.6:
        return "frontal"
    if anterior < 0.25:
        return "occipital"
    if superior < 0.45:
        return "temporal"
    return "parietal"


def _axis_aligned(affine: np.ndarray) -> bool:
    """Whether each voxel axis moves along exactly one RAS axis (no obliquity)."""
    linear = np.asarray(affine, dtype=np.float64)[:3, :3] != 0
    return bool(np.all(linear.sum(axis=0) == 1) and np.all(linear.sum(axis=1) == 1))


def _brain_extent_ras(
    study: StudyLike, tumour_box: tuple[slice, slice, slice], affine: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """RAS bounds of the brain (any image's non-zero voxels, plus the tumour's box).

    The brain's voxel box is the union of every image's box; for an axis-aligned affine
    each RAS coordinate depends on one voxel index only, monotonically, so the box's
    corners reach the same extremes as the whole voxel set. None for oblique affines.
    """
    if not _axis_aligned(affine):
        return None
    lo = [s.start for s in tumour_box]
    hi = [s.stop - 1 for s in tumour_box]
    for array in study.arrays.values():
        box = bounding_box(np.asarray(array) > 0)
        if box is None:
            continue
        lo = [min(a, s.start) for a, s in zip(lo, box, strict=True)]
        hi = [max(b, s.stop - 1) for b, s in zip(hi, box, strict=True)]
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])],
        dtype=np.int64,
    )
    ras = (affine[:3, :3] @ corners.T).T + affine[:3, 3]
    return ras.min(axis=0), ras.max(axis=0)


def _brain_extent_ras_any(
    study: StudyLike, tumour: np.ndarray, affine: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """RAS bounds of every brain voxel (the general path for oblique affines)."""
    brain = tumour.copy()
    for array in study.arrays.values():
        brain |= np.asarray(array) > 0
    brain_vox = np.argwhere(brain)
    brain_ras = (affine[:3, :3] @ brain_vox.T).T + affine[:3, 3]
    return brain_ras.min(axis=0), brain_ras.max(axis=0)


def tumour_facts(study: StudyLike, mask: np.ndarray) -> TumourFacts:
    """Measure the tumour given by a BraTS label mask on the study grid.

    Everything but the brain's extent is computed on the tumour's bounding box.

    Raises:
        EmptyMaskError: the mask holds no tumour.
        InvalidStudyError: the mask's shape differs from the study's.
    """
    shape = study_shape(study)
    if tuple(mask.shape) != shape:
        raise InvalidStudyError(f"mask shape {tuple(mask.shape)} differs from the study's {shape}")
    labels = np.asarray(mask)
    tumour = labels > 0
    box = bounding_box(tumour)
    if box is None:
        raise EmptyMaskError("the tumour mask is empty")
    affine = np.asarray(study.affine, dtype=np.float64)
    voxel_ml = float(np.prod(voxel_spacing(affine))) / 1000.0
    box_tumour = tumour[box]
    counts = np.bincount(labels[box][box_tumour].astype(np.int64), minlength=4)
    necrotic, oedema, enhancing = (float(counts[i]) * voxel_ml for i in (1, 2, 3))

    # Integer sums are exact, so this equals the mean of the whole grid's coordinates.
    local = np.argwhere(box_tumour)
    n = local.shape[0]
    offset = np.array([s.start for s in box], dtype=np.int64)
    centroid_vox = (local.sum(axis=0) + offset * n).astype(np.float64) / n
    ras = affine @ np.append(centroid_vox, 1.0)
    centroid_ras = (float(ras[0]), float(ras[1]), float(ras[2]))

    extent = _brain_extent_ras(study, box, affine)
    lo, hi = extent if extent is not None else _brain_extent_ras_any(study, tumour, affine)
    mid_x = (lo[0] + hi[0]) / 2.0
    dx = centroid_ras[0] - mid_x
    hemisphere = "midline" if abs(dx) < MIDLINE_MM else ("right" if dx > 0 else "left")
    size = np.maximum(hi - lo, 1e-6)
    anterior = float((centroid_ras[1] - lo[1]) / size[1])
    superior = float((centroid_ras[2] - lo[2]) / size[2])

    lesion_count = max(1, count_lesions(tumour, voxel_spacing(affine), box=box))

    return TumourFacts(
        volume_ml=necrotic + oedema + enhancing,
        necrotic_ml=necrotic,
        oedema_ml=oedema,
        enhancing_ml=enhancing,
        core_ml=necrotic + enhancing,
        centroid_ras_mm=centroid_ras,
        centroid_lps_mm=(-centroid_ras[0], -centroid_ras[1], centroid_ras[2]),
        hemisphere=hemisphere,
        lobe=lobe_by_rule(anterior, superior),
        lesion_count=lesion_count,
    )
