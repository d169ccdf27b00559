"""Tumour facts shown with every result: volumes, centroid, side, lobe, lesion count."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from models.errors import EmptyMaskError, InvalidStudyError
from models.study_arrays import StudyLike, study_shape, voxel_spacing

__all__ = ["TumourFacts", "lobe_by_rule", "tumour_facts"]

#: BraTS labels of the three compartments.
NECROTIC, OEDEMA, ENHANCING = 1, 2, 3
#: Lesions smaller than this (ml) are ignored when counting (segmentation specks).
MIN_LESION_ML = 0.05
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
        lesion_count: 3-D connected components of at least ``MIN_LESION_ML``.
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


def _brain_mask(study: StudyLike, shape: tuple[int, int, int]) -> np.ndarray:
    brain = np.zeros(shape, dtype=bool)
    for array in study.arrays.values():
        brain |= np.asarray(array) > 0
    return brain


def tumour_facts(study: StudyLike, mask: np.ndarray) -> TumourFacts:
    """Measure the tumour given by a BraTS label mask on the study grid.

    Raises:
        EmptyMaskError: the mask holds no tumour.
        InvalidStudyError: the mask's shape differs from the study's.
    """
    shape = study_shape(study)
    if tuple(mask.shape) != shape:
        raise InvalidStudyError(f"mask shape {tuple(mask.shape)} differs from the study's {shape}")
    labels = np.asarray(mask)
    tumour = labels > 0
    if not tumour.any():
        raise EmptyMaskError("the tumour mask is empty")
    affine = np.asarray(study.affine, dtype=np.float64)
    voxel_ml = float(np.prod(voxel_spacing(affine))) / 1000.0
    counts = np.bincount(labels[tumour].astype(np.int64), minlength=4)
    necrotic, oedema, enhancing = (float(counts[i]) * voxel_ml for i in (1, 2, 3))

    centroid_vox = np.argwhere(tumour).mean(axis=0)
    ras = affine @ np.append(centroid_vox, 1.0)
    centroid_ras = (float(ras[0]), float(ras[1]), float(ras[2]))

    brain = _brain_mask(study, shape) | tumour
    brain_vox = np.argwhere(brain)
    brain_ras = (affine[:3, :3] @ brain_vox.T).T + affine[:3, 3]
    lo, hi = brain_ras.min(axis=0), brain_ras.max(axis=0)
    mid_x = (lo[0] + hi[0]) / 2.0
    dx = centroid_ras[0] - mid_x
    hemisphere = "midline" if abs(dx) < MIDLINE_MM else ("right" if dx > 0 else "left")
    extent = np.maximum(hi - lo, 1e-6)
    anterior = float((centroid_ras[1] - lo[1]) / extent[1])
    superior = float((centroid_ras[2] - lo[2]) / extent[2])

    components, count = ndimage.label(tumour, structure=np.ones((3, 3, 3), dtype=bool))
    sizes = ndimage.sum_labels(tumour, components, index=np.arange(1, count + 1)) * voxel_ml
    lesion_count = max(1, int(np.sum(np.asarray(sizes) >= MIN_LESION_ML)))

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
