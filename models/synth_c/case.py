"""One synthetic case in memory: patient, anatomy, lesions, scan, images and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.synth_c.acquisition import Acquisition, sample_acquisition
from models.synth_c.anatomy import HeadShape, sample_head, tissue_at
from models.synth_c.geometry import Grid, Pose, make_grid, sample_pose
from models.synth_c.lesions import LesionSpec, plan_lesions, scaled
from models.synth_c.masseffect import warp
from models.synth_c.paint import paint_lesions
from models.synth_c.plan import ACQUISITION, PATIENT, CasePlan, plan_case, stream
from models.synth_c.render import render_images
from models.synth_c.sites import map_sites
from models.synth_c.tissue import seg_labels

__all__ = ["SynthCase", "label_volume", "synthesise_case"]

U8 = NDArray[np.uint8]


@dataclass(frozen=True)
class SynthCase:
    """Everything about one case; ``tissue`` is the ground truth the images come from."""

    plan: CasePlan
    grid: Grid
    head: HeadShape
    pose: Pose
    lesions: list[LesionSpec]
    acquisition: Acquisition
    tissue: U8
    seg: U8
    images: dict[str, NDArray[np.int16]]


def patient_anatomy(
    seed: int, plan: CasePlan, hard_rate: float
) -> tuple[HeadShape, list[LesionSpec]]:
    """The patient's brain and lesions as first seen (identical for every time point)."""
    first = plan_case(seed, plan.base_index, hard_rate)
    rng = stream(seed, plan.base_index, PATIENT)
    head = sample_head(rng, first.age)
    lesions = plan_lesions(rng, head, map_sites(head), plan.diagnosis, plan.hard)
    return head, lesions


def label_volume(head: HeadShape, pose: Pose, grid: Grid, lesions: list[LesionSpec]) -> U8:
    """Tissue codes of the normal anatomy on the grid, pushed aside by the lesions' mass."""
    a, b, c = head.axes
    r = grid.resolution_mm
    axes = [np.arange(n, dtype=np.float32) * r - (n - 1) / 2 * r for n in grid.shape]
    rot = pose.rotation.T.astype(np.float32)
    shift = (rot @ pose.translation).astype(np.float32)
    xw, yw, zw = np.ix_(*axes)
    coords = [rot[i, 0] * xw + rot[i, 1] * yw + rot[i, 2] * zw - shift[i] for i in range(3)]
    x, y, z = coords
    candidate = ((x / (a + 14)) ** 2 + (y / (b + 14)) ** 2 + (z / (c + 14)) ** 2 < 1) | (
        (z < -0.15 * c) & (np.abs(x) < 0.85 * a + 8) & (y > -0.98 * b - 8) & (y < 0.15 * b)
    )
    q = np.stack([coords[i][candidate] for i in range(3)]).astype(np.float32)
    del coords, x, y, z
    volume = np.zeros(grid.shape, dtype=np.uint8)
    volume[candidate] = tissue_at(head, warp(q, lesions))
    return volume


def synthesise_case(seed: int, index: int, resolution_mm: float, hard_rate: float) -> SynthCase:
    """Case ``index`` of the corpus ``seed`` at ``resolution_mm`` (deterministic)."""
    plan = plan_case(seed, index, hard_rate)
    head, lesions = patient_anatomy(seed, plan, hard_rate)
    if plan.volume_scale != 1.0:
        lesions = [scaled(spec, plan.volume_scale) for spec in lesions]
    rng = stream(seed, index, ACQUISITION)
    top = head.axes[2] + head.rim_mm + 0.16 * head.axes[1]
    pose = sample_pose(rng, top)
    acquisition = sample_acquisition(rng, mismatch=any(spec.mismatch for spec in lesions))
    grid = make_grid(resolution_mm)
    tissue = label_volume(head, pose, grid, lesions)
    paint_lesions(tissue, grid, pose, head, lesions)
    images = render_images(tissue, acquisition, resolution_mm)
    return SynthCase(
        plan, grid, head, pose, lesions, acquisition, tissue, seg_labels(tissue), images
    )
