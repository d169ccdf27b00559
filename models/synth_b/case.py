"""One synthetic case of generator B, from ``(seed, index, resolution)`` alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from models.synth_b.acquisition import Pose, apply_artefacts, sample_acquisition
from models.synth_b.anatomy import Anatomy, build_anatomy, patient_grid, sample_anatomy_params
from models.synth_b.contrast import SEQUENCES, sample_contrasts
from models.synth_b.extra_axial import add_cleft, add_dural_tail
from models.synth_b.grid import Grid, grid_for
from models.synth_b.lesion_drawing import PlacedLesion, Tissue, draw_core, grow_oedema
from models.synth_b.lesion_specs import grow, sample_lesions
from models.synth_b.mass_effect import push_tissue
from models.synth_b.placement import Sites
from models.synth_b.plan import CasePlan, patient_rng, plan_case
from models.synth_b.render import build_scene, render
from models.synth_b.template import load_template
from models.synth_b.truth import case_truth

__all__ = ["SyntheticCase", "generate_case"]

_STREAM_ACQUISITION = 5


@dataclass(frozen=True)
class SyntheticCase:
    """The four images (int16), the labels (uint8), the affine and the truth record."""

    plan: CasePlan
    images: dict[str, npt.NDArray[np.int16]]
    seg: npt.NDArray[np.uint8]
    affine: npt.NDArray[np.float64]
    truth: dict[str, Any]
    tissue: npt.NDArray[np.uint8] | None = None  # 1 CSF, 2 GM, 3 WM, 0 other or mixed


def _push_all(placed: list[PlacedLesion], anatomy: Anatomy, resolution_mm: float) -> None:
    for lesion in placed:
        spec = lesion.spec
        core_ml = float(lesion.core_mask.sum()) * resolution_mm**3 / 1000.0
        volume = core_ml * (1.0 if spec.extra_axial else 1.0 + 0.5 * spec.oedema_ratio)
        radius = (3.0 * spec.push * volume * 1000.0 / (4.0 * np.pi)) ** (1 / 3)
        core_radius = (3.0 * core_ml * 1000.0 / (4.0 * np.pi)) ** (1 / 3)
        radius = min(radius, 1.15 * core_radius) / resolution_mm
        core = np.argwhere(lesion.core_mask)
        if spec.extra_axial or not len(core):
            centre = lesion.centre
        else:
            centre = core.mean(axis=0) + np.array([s.start for s in lesion.box])
        push_tissue(anatomy, np.asarray(centre, dtype=np.float64), radius)


def _clip_to(anatomy: Anatomy, intracranial: npt.NDArray[np.bool_]) -> None:
    for name in ("gm", "wm", "csf", "ventricles"):
        volume = getattr(anatomy, name)
        volume *= intracranial
        np.clip(volume, 0.0, 1.0, out=volume)
    total = anatomy.gm + anatomy.wm + anatomy.csf
    over = total > 1.0
    for name in ("gm", "wm", "csf"):
        volume = getattr(anatomy, name)
        volume[over] /= total[over]


def _lesion_maps(
    placed: list[PlacedLesion], grid: Grid
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    lesion = np.zeros(grid.shape, dtype=np.uint8)
    tail = np.zeros(grid.shape, dtype=np.float32)
    for item in placed:
        if item.oedema is not None:
            view = lesion[item.box]
            view[item.oedema & (view == 0)] = Tissue.OEDEMA
        if item.tail is not None:
            tail[item.box] = np.maximum(tail[item.box], item.tail)
    for item in placed:
        view = lesion[item.box]
        core = item.tissue > 0
        view[core] = item.tissue[core]
    tail[lesion > 0] = 0.0
    return lesion, tail


def _posed_seg(lesion: npt.NDArray[np.uint8], pose: Pose) -> npt.NDArray[np.uint8]:
    labels = Tissue.LABEL[lesion]
    seg = np.asarray(pose.apply(labels, order=0), dtype=np.uint8)
    if not ((seg == 1) | (seg == 3)).any():  # a tiny core lost by resampling: keep its peak
        core = ((labels == 1) | (labels == 3)).astype(np.float32)
        weight = np.asarray(pose.apply(core, order=1), dtype=np.float32)
        peak = np.unravel_index(int(np.argmax(weight)), seg.shape)
        seg[peak] = 3 if (labels == 3).any() else 1
    return seg


def _tissue_map(anatomy: Anatomy) -> npt.NDArray[np.uint8]:
    stacked = np.stack([anatomy.csf, anatomy.gm, anatomy.wm])
    tissue = (np.argmax(stacked, axis=0) + 1).astype(np.uint8)
    tissue[stacked.max(axis=0) < 0.6] = 0  # mixed voxels: no class
    return np.asarray(tissue, dtype=np.uint8)


def generate_case(
    seed: int,
    index: int,
    resolution_mm: float = 2.0,
    hard_rate: float = 0.15,
    *,
    with_tissue: bool = False,
) -> SyntheticCase:
    """Make case ``index`` of corpus ``seed`` at ``resolution_mm`` (deterministic).

    ``with_tissue`` also returns the normal tissue class of every output voxel (for tests
    and checks; not written to the corpus).
    """
    plan = plan_case(seed, index, hard_rate)
    grid = grid_for(resolution_mm)
    template = load_template(resolution_mm)
    patient = plan.patient_index
    params = sample_anatomy_params(patient_rng(seed, patient, 1), plan.age - (plan.timepoint - 1))
    pgrid = patient_grid(params, grid, template)
    anatomy = build_anatomy(params, pgrid, template)
    sites = Sites(anatomy, resolution_mm)
    specs = sample_lesions(patient_rng(seed, patient, 2), plan.diagnosis, plan.hard)
    acq_rng = np.random.default_rng(np.random.SeedSequence([seed, index, _STREAM_ACQUISITION]))
    if plan.follow_up_of is not None:
        specs = grow(specs, float(acq_rng.uniform(0.7, 1.3)))
    placed = [draw_core(spec, sites, resolution_mm, pgrid.shape) for spec in specs]
    all_cores = np.zeros(pgrid.shape, dtype=np.bool_)
    for item in placed:
        all_cores[item.box] |= item.core_mask
    _push_all(placed, anatomy, resolution_mm)
    _clip_to(anatomy, sites.intracranial)
    oedema_rng = patient_rng(seed, patient, 3)
    for item in placed:
        if item.spec.extra_axial:
            if item.spec.cleft:
                add_cleft(item, anatomy, resolution_mm)
            add_dural_tail(item, sites, resolution_mm)
        grow_oedema(item, anatomy, all_cores, oedema_rng, grid.voxel_ml)
    lesion, tail = _lesion_maps(placed, pgrid)
    scene = build_scene(anatomy, sites.intracranial, lesion, tail, acq_rng, resolution_mm)
    contrasts = sample_contrasts(acq_rng, flair_mismatch=any(s.flair_mismatch for s in specs))
    acquisition = sample_acquisition(acq_rng, resolution_mm)
    pose = Pose(acquisition, grid, pgrid)
    posed = {
        seq: np.asarray(
            pose.apply(render(scene, contrasts[seq], seq == "t1c"), 1),
            dtype=np.float32,
        )
        for seq in SEQUENCES
    }
    head = posed["t2w"] > 0.2  # every tissue and dura is > 0.4 of white matter on T2
    images = apply_artefacts(
        posed, head, acquisition, grid, {s: c.gain for s, c in contrasts.items()}
    )
    seg = _posed_seg(lesion, pose)
    largest = max(placed, key=lambda item: int(item.core_mask.sum()))
    core_voxels = tuple(
        idx + box.start for idx, box in zip(np.nonzero(largest.core_mask), largest.box, strict=True)
    )
    truth = case_truth(
        plan,
        specs,
        seg,
        grid,
        anatomy.mni[(slice(None), *core_voxels)],
        anatomy.patient_side()[core_voxels],
        necrosis=bool((lesion == Tissue.NECROSIS).any()),
        extra={
            "noise": acquisition.noise_model,
            "bias": acquisition.bias_form,
            "thick_slice_mm": round(acquisition.thick_factor * resolution_mm, 2)
            if acquisition.thick_axis >= 0
            else None,
        },
    )
    tissue = pose.apply(_tissue_map(anatomy), order=0) if with_tissue else None
    return SyntheticCase(
        plan=plan, images=images, seg=seg, affine=grid.affine.copy(), truth=truth, tissue=tissue
    )
