"""The truth record of a case (spec section 5): identity, volumes from the labels,
centroid, side, lobe, enhancement pattern."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from models.synth_b.grid import Grid
from models.synth_b.lesion_specs import LesionSpec
from models.synth_b.plan import CasePlan

__all__ = ["case_truth", "hemisphere_of", "lobe_of"]


def lobe_of(x: float, y: float, z: float) -> str:
    """The lobe (or infratentorial structure) of an MNI coordinate, by simple planes."""
    if z < -20 and y < -42:
        return "cerebellum"
    if z < -12 and abs(x) < 12 and y > -42:
        return "brainstem"
    if abs(x) > 28 and y > -72 and z < (5.0 if y < 0 else -8.0):
        return "temporal"
    if abs(x) > 14 and -65 < y < 5 and z < -8:  # medial temporal lobe
        return "temporal"
    if y > -5.0 - 0.35 * max(z - 10.0, 0.0):
        return "frontal"
    if y < -72:
        return "occipital"
    return "parietal"


def hemisphere_of(patient_side: npt.NDArray[np.float32]) -> str:
    """``left``, ``right`` or ``midline`` from the patient-side x of the core's voxels."""
    if patient_side.size == 0:
        return "midline"
    right = float((patient_side > 0).mean())
    if right >= 0.8:
        return "right"
    if right <= 0.2:
        return "left"
    return "midline"


def case_truth(
    plan: CasePlan,
    lesions: list[LesionSpec],
    seg: npt.NDArray[np.uint8],
    grid: Grid,
    core_mni: npt.NDArray[np.float32],
    core_side: npt.NDArray[np.float32],
    necrosis: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The truth.json entry; volumes and centroid are read from the final ``seg``;
    ``core_mni`` (3, n) and ``core_side`` (n,) are of the largest lesion's core voxels
    (side and lobe are the largest lesion's)."""
    counts = np.bincount(seg.ravel(), minlength=4)
    ml = grid.voxel_ml
    necrotic, oedema, enhancing = (float(counts[i] * ml) for i in (1, 2, 3))
    core = necrotic + enhancing
    core_voxels = np.argwhere((seg == 1) | (seg == 3))
    centroid = (
        grid.to_world(core_voxels.mean(axis=0)) if len(core_voxels) else grid.to_world([0, 0, 0])
    )
    mni = core_mni.mean(axis=1) if core_mni.size else np.zeros(3)
    largest = max(lesions, key=lambda lesion: lesion.core_ml)
    return {
        "case_id": plan.case_id,
        "diagnosis": plan.diagnosis,
        "patient_id": plan.patient_id,
        "timepoint": plan.timepoint,
        "follow_up_of": plan.follow_up_of,
        "hard": plan.hard,
        "lesion_count": len(lesions),
        "volume_ml": {
            "necrotic": round(necrotic, 4),
            "oedema": round(oedema, 4),
            "enhancing": round(enhancing, 4),
            "tumour_core": round(core, 4),
            "whole_tumour": round(core + oedema, 4),
        },
        "centroid_mm": [round(float(v), 2) for v in centroid],
        "hemisphere": hemisphere_of(core_side),
        "lobe": lobe_of(float(mni[0]), float(mni[1]), float(mni[2])),
        "extra_axial": largest.extra_axial,
        "enhancement": largest.enhancement,
        "necrosis": bool(necrosis),
        "oedema_ratio": round(oedema / core, 4) if core > 0 else 0.0,
        "age": plan.age,
        "sex": plan.sex,
        "site": largest.site,
        **extra,
    }
