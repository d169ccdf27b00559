"""The truth-file entry of a case, measured on its label volume (spec section 5)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from models.synth_c.anatomy import HeadShape, cerebrum_radius
from models.synth_c.case import SynthCase

__all__ = ["MIDLINE_MM", "case_truth", "core_components", "lobe_of"]

#: A tumour-core centroid within this distance of the midsagittal plane is ``midline``.
MIDLINE_MM = 5.0
_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def core_components(seg: NDArray[np.uint8]) -> tuple[NDArray[np.int32], int]:
    """Connected components (26-connectivity) of the tumour core (labels 1 and 3)."""
    labels, count = ndimage.label((seg == 1) | (seg == 3), structure=_CONNECTIVITY)
    return np.asarray(labels, dtype=np.int32), int(count)


def lobe_of(head: HeadShape, q: NDArray[np.float32]) -> str:
    """The region of the procedural brain holding head-frame point ``q`` (3,)."""
    a, b, c = head.axes
    x, y, z = (float(v) for v in q)
    cy, cz, ca, cb, cc, _ = head.cerebellum
    if ((x / ca) ** 2 + ((y - cy) / cb) ** 2 + ((z - cz) / cc) ** 2) < 1.1 or z < -0.7 * c:
        return "cerebellum"
    depth = (1.0 - float(cerebrum_radius(head, q.reshape(3, 1))[0])) * (a + b + c) / 3
    if depth > 30 and abs(x) < 0.3 * a and abs(y) < 0.3 * b:
        return "deep"
    if y > 0.12 * b:
        return "frontal"
    if y < -0.6 * b:
        return "occipital"
    if z < -0.08 * c and abs(x) > 0.4 * a:
        return "temporal"
    return "parietal"


def _volumes(seg: NDArray[np.uint8], voxel_ml: float) -> dict[str, float]:
    counts = np.bincount(seg.ravel(), minlength=4)
    necrotic, oedema, enhancing = (float(counts[k]) * voxel_ml for k in (1, 2, 3))
    return {
        "necrotic": round(necrotic, 3),
        "oedema": round(oedema, 3),
        "enhancing": round(enhancing, 3),
        "tumour_core": round(necrotic + enhancing, 3),
        "whole_tumour": round(necrotic + oedema + enhancing, 3),
    }


def case_truth(case: SynthCase) -> dict[str, Any]:
    """Every field spec section 5 asks for, plus how the case was made."""
    plan, seg, grid = case.plan, case.seg, case.grid
    volumes = _volumes(seg, grid.voxel_ml)
    components, count = core_components(seg)
    core = components > 0
    centroid_index = np.asarray(np.nonzero(core if core.any() else seg > 0), dtype=np.float64)
    centroid = (grid.affine[:3, :3] @ centroid_index.mean(axis=1)) + grid.affine[:3, 3]
    head_centroid = case.pose.to_head(centroid.astype(np.float32)[:, None])[:, 0]
    side = float(head_centroid[0])
    hemisphere = "midline" if abs(side) < MIDLINE_MM else ("right" if side > 0 else "left")
    enhancement, necrosis = "none", False
    if count:
        sizes = np.bincount(components.ravel())[1:]
        largest = components == int(np.argmax(sizes)) + 1
        has_enh, has_core1 = bool(np.any(seg[largest] == 3)), bool(np.any(seg[largest] == 1))
        enhancement = ("ring" if has_core1 else "solid") if has_enh else "none"
        necrosis = has_enh and has_core1 and plan.hard != "cystic_meningioma"
    acq = case.acquisition
    truth: dict[str, Any] = {
        "case_id": plan.case_id,
        "diagnosis": plan.diagnosis,
        "patient_id": plan.patient_id,
        "timepoint": plan.timepoint,
        "follow_up_of": plan.follow_up_of,
        "hard": plan.hard,
        "lesion_count": count,
        "volume_ml": volumes,
        "centroid_mm": [round(float(v), 2) for v in centroid],
        "hemisphere": hemisphere,
        "lobe": lobe_of(case.head, head_centroid),
        "extra_axial": plan.diagnosis == "meningioma",
        "enhancement": enhancement,
        "necrosis": necrosis,
        "oedema_ratio": round(volumes["oedema"] / max(volumes["tumour_core"], 1e-9), 3),
        "age": plan.age,
        "sex": plan.sex,
        "volume_scale": round(plan.volume_scale, 4),
        "head_centre_mm": [round(float(v), 2) for v in case.pose.translation],
        "acquisition": {
            "gain": {k: round(v, 1) for k, v in acq.gain.items()},
            "noise": {k: round(v, 4) for k, v in acq.noise.items()},
            "bias": round(acq.bias, 3),
            "slice_thickness_mm": round(max(acq.slice_mm, grid.resolution_mm), 2),
            "yaw_deg": case.pose.angles()[0],
        },
    }
    return truth
