"""Lesion facts of a generated case: what the images and labels show, for checks and baselines."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from models.synth.acquisition import Pose
from models.synth.lesion_plan import Lesion
from models.synth.lesion_render import LABEL_ENHANCING, LABEL_NECROTIC, LABEL_OEDEMA
from models.synth.plan import CasePlan

__all__ = ["case_facts", "hemisphere", "lobe"]


def lobe(point_mm: NDArray[np.float64] | tuple[float, float, float]) -> str:
    """Approximate lobe of an MNI point (coarse boxes, good to a few centimetres)."""
    x, y, z = (float(v) for v in point_mm)
    if z < -20 and y < -42:
        return "cerebellum"
    if abs(x) < 24 and -38 < y < 12 and -12 < z < 24:
        return "deep grey matter"
    if y < -72 or (y < -60 and z < 20):
        return "occipital"
    if z < 8 and abs(x) > 28 and -65 < y < 25:
        return "temporal"
    if y > -22 + 0.15 * (40 - z):
        return "frontal"
    return "parietal"


def hemisphere(x_mm: float, flip_lr: bool) -> str:
    """Side of the patient's brain shown on the (possibly mirrored) image; RAS x > 0 is right."""
    if abs(x_mm) < 4.0:
        return "midline"
    right = x_mm > 0
    if flip_lr:
        right = not right
    return "right" if right else "left"


def _ml(count: int, voxel_ml: float) -> float:
    return round(count * voxel_ml, 3)


def case_facts(
    plan: CasePlan,
    lesions: list[Lesion],
    pose: Pose,
    labels: NDArray[np.uint8],
    affine: NDArray[np.float64],
    resolution_mm: float,
) -> dict[str, Any]:
    """Facts measured on the final (posed) labels plus the planned lesions in world mm."""
    voxel_ml = float(abs(np.linalg.det(affine[:3, :3]))) / 1000.0
    core = (labels == LABEL_NECROTIC) | (labels == LABEL_ENHANCING)
    components, count = ndi.label(core, structure=np.ones((3, 3, 3), dtype=bool))
    parts = []
    for index in range(1, count + 1):
        idx = np.argwhere(components == index)
        centre = affine[:3, :3] @ idx.mean(axis=0) + affine[:3, 3]
        parts.append(
            {
                "centroid_mm": [round(float(v), 2) for v in centre],
                "volume_ml": _ml(len(idx), voxel_ml),
            }
        )
    parts.sort(key=lambda p: -float(p["volume_ml"]))  # type: ignore[arg-type]
    tumour = np.argwhere(labels > 0)
    core_idx = np.argwhere(core)
    ref = core_idx if len(core_idx) else tumour
    centroid = (
        [round(float(v), 2) for v in affine[:3, :3] @ ref.mean(axis=0) + affine[:3, 3]]
        if len(ref)
        else None
    )
    main = lesions[0]
    planned = []
    for lesion in lesions:
        posed = pose.forward(np.asarray(lesion.centre_mm)[None, :])[0]
        planned.append(
            {
                "centre_mm": [round(float(v), 2) for v in posed],
                "template_centre_mm": [round(float(v), 2) for v in lesion.centre_mm],
                "radius_mm": round(lesion.mean_radius_mm * pose.scale, 2),
                "hemisphere": hemisphere(lesion.centre_mm[0], pose.flip_lr),
                "lobe": lobe(lesion.centre_mm),
                "enhancing": lesion.enhancing,
                "necrotic": lesion.necrosis > 0,
                "oedema": lesion.oedema_mm > 0,
            }
        )
    return {
        "case_id": plan.case_id,
        "diagnosis": plan.diagnosis,
        "patient_id": plan.patient_id,
        "timepoint": plan.timepoint,
        "follow_up_of": plan.follow_up_of,
        "hard": plan.hard,
        "resolution_mm": resolution_mm,
        "lesion_count": count,
        "planned_lesion_count": len(lesions),
        "volume_ml": {
            "necrotic": _ml(int(np.sum(labels == LABEL_NECROTIC)), voxel_ml),
            "oedema": _ml(int(np.sum(labels == LABEL_OEDEMA)), voxel_ml),
            "enhancing": _ml(int(np.sum(labels == LABEL_ENHANCING)), voxel_ml),
            "tumour_core": _ml(int(np.sum(core)), voxel_ml),
            "whole_tumour": _ml(int(np.sum(labels > 0)), voxel_ml),
        },
        "centroid_mm": centroid,
        "hemisphere": hemisphere(main.centre_mm[0], pose.flip_lr),
        "lobe": lobe(main.centre_mm),
        "extra_axial": main.kind == "meningioma",
        "components": parts,
        "lesions": planned,
        "pose": {
            "rotation_deg": [round(v, 2) for v in pose.rotation_deg],
            "translation_mm": [round(v, 2) for v in pose.translation_mm],
            "scale": round(pose.scale, 4),
            "flip_lr": pose.flip_lr,
        },
    }
