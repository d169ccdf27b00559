"""Drawing placed lesions on the patient grid: cores, necrosis, cysts, dural tails, oedema.

Work is done in a box around each lesion, never on the whole volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.anatomy import Anatomy
from models.synth_b.lesion_specs import LesionSpec
from models.synth_b.placement import Sites
from models.synth_b.shapes import LEVEL, SHAPE_EXTENT, turn_towards

__all__ = ["PlacedLesion", "Tissue", "draw_core", "grow_oedema"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]
Box = tuple[slice, slice, slice]


class Tissue:
    """Lesion tissue classes (what is rendered) and their BraTS labels."""

    OEDEMA = 1
    NECROSIS = 2
    ENHANCING = 3
    NON_ENHANCING = 4
    MENINGIOMA = 5
    CYST = 6
    LABEL = np.array([0, 2, 1, 3, 1, 3, 1], dtype=np.uint8)


@dataclass
class PlacedLesion:
    """A lesion drawn in its box: tissue classes (0 outside the core) and geometry."""

    spec: LesionSpec
    box: Box
    core: FloatArray  # implicit field in the box (> LEVEL inside)
    tissue: npt.NDArray[np.uint8]  # core tissue classes in the box
    centre: npt.NDArray[np.float64]  # voxel
    radius_vox: float
    oedema: BoolArray | None = None
    tail: FloatArray | None = None  # dural tail enhancement weight (meningioma)

    @property
    def core_mask(self) -> BoolArray:
        return np.asarray(self.tissue > 0, dtype=np.bool_)


def _box(centre: npt.NDArray[np.float64], half: float, shape: tuple[int, ...]) -> Box:
    lo = [max(int(np.floor(c - half)), 0) for c in centre]
    hi = [min(int(np.ceil(c + half)) + 1, n) for c, n in zip(centre, shape, strict=True)]
    return (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))


def _offsets(box: Box, centre: npt.NDArray[np.float64]) -> FloatArray:
    axes = [
        np.arange(s.start, s.stop, dtype=np.float32) - float(c)
        for s, c in zip(box, centre, strict=True)
    ]
    grids = np.meshgrid(*axes, indexing="ij")
    return np.stack(grids, axis=-1).astype(np.float32)


def _white_matter_axis(
    wm: FloatArray, anchor: npt.NDArray[np.float64], reach: float
) -> npt.NDArray[np.float64] | None:
    """Main direction of the white matter around ``anchor`` (first principal axis)."""
    box = _box(anchor, reach, wm.shape)
    points = np.argwhere(wm[box] > 0.6).astype(np.float64)
    if len(points) < 10:
        return None
    centred = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    return np.asarray(vectors[:, -1], dtype=np.float64)


def draw_core(
    spec: LesionSpec, sites: Sites, resolution_mm: float, shape: tuple[int, int, int]
) -> PlacedLesion:
    """Place ``spec`` at its site and draw its core (necrosis, cyst) in a box."""
    anchor = sites.pick(spec.site, spec.site_draw).astype(np.float64)
    radius_mm = (spec.core_ml * 1000.0 / spec.shape.unit_volume()) ** (1.0 / 3.0)
    radius = radius_mm / resolution_mm
    if spec.plaque_mm > 0:
        radius *= 1.8  # broad and thin: the sheet is cut from a larger shape
    elif spec.extra_axial:
        radius *= 1.15 if spec.site == "falx" else 1.2  # part of the shape is cut off
    inward = np.zeros(3)
    centre = anchor.copy()
    if spec.site == "falx":
        inward[0] = -1.0 if spec.side_draw < 0.5 else 1.0
        centre = anchor + inward * 0.3 * radius
    elif spec.extra_axial:
        i, j, k = (int(v) for v in anchor)
        inward = sites.inward_at((i, j, k))
        inward /= max(float(np.linalg.norm(inward)), 1e-6)
        centre = anchor + inward * 0.25 * radius
    reach = (spec.core_ml * (1.0 + spec.oedema_ratio) * 1000.0 * 3 / (4 * np.pi)) ** (
        1 / 3
    ) / resolution_mm
    box = _box(centre, max(SHAPE_EXTENT * radius, 2.6 * reach + 4.0) + 2.0, shape)
    offsets = _offsets(box, centre)
    u = offsets / np.float32(radius)
    if spec.diagnosis == "glioma":  # stretched along the local white-matter tracts
        tract = _white_matter_axis(sites.white_matter, anchor, 12.0 / resolution_mm)
        if tract is not None:
            turn = turn_towards(spec.shape.long_axis, tract)
            u = (u.reshape(-1, 3) @ turn).reshape(u.shape).astype(np.float32)
    inner = (np.abs(u) < SHAPE_EXTENT).all(axis=-1)
    field = np.zeros(inner.shape, dtype=np.float32)
    field[inner] = spec.shape.field(u[inner])
    core = (field > LEVEL) & sites.intracranial[box]
    if spec.extra_axial:
        if spec.plaque_mm > 0:  # a sheet along the dura, not a ball
            depth = ndimage.distance_transform_edt(sites.intracranial[box]) * resolution_mm
            core &= depth <= spec.plaque_mm
        if spec.site == "falx":
            core &= offsets[..., 0] * inward[0] >= -0.5
    if not core.any():
        local = tuple(round(c) - s.start for c, s in zip(centre, box, strict=True))
        if all(0 <= v < n for v, n in zip(local, core.shape, strict=True)):
            core[local] = True
    tissue = np.zeros(core.shape, dtype=np.uint8)
    if spec.diagnosis == "meningioma":
        tissue[core] = Tissue.MENINGIOMA
        if spec.cyst:
            cyst_centre = inward * 0.55 * radius
            d = np.sqrt(((offsets - cyst_centre.astype(np.float32)) ** 2).sum(axis=-1))
            tissue[core & (d < 0.5 * radius)] = Tissue.CYST
        if spec.necrosis_fraction > 0:
            _necrosis(tissue, field, core, spec.necrosis_fraction, 2, Tissue.NECROSIS)
    elif spec.enhancement == "none":
        tissue[core] = Tissue.NON_ENHANCING
    else:
        tissue[core] = Tissue.ENHANCING
        if spec.enhancement == "ring":
            wall = max(1, round(spec.wall_mm / resolution_mm))
            _necrosis(tissue, field, core, spec.necrosis_fraction, wall, Tissue.NECROSIS)
    return PlacedLesion(
        spec=spec, box=box, core=field, tissue=tissue, centre=centre, radius_vox=radius
    )


def _necrosis(
    tissue: npt.NDArray[np.uint8],
    field: FloatArray,
    core: BoolArray,
    fraction: float,
    wall: int,
    value: int,
) -> None:
    inner = ndimage.binary_erosion(core, iterations=wall)
    if not inner.any():
        return
    level = float(np.quantile(field[core], 1.0 - fraction))
    necrotic = inner & (field >= level)
    tissue[necrotic] = value


def grow_oedema(
    lesion: PlacedLesion,
    anatomy: Anatomy,
    all_cores: BoolArray,
    rng: np.random.Generator,
    voxel_ml: float,
) -> None:
    """Grow oedema out of the core through white matter until its target volume."""
    spec = lesion.spec
    target = spec.core_ml * spec.oedema_ratio / voxel_ml
    if target < 1:
        return
    box = lesion.box
    wm, brain = anatomy.wm[box], anatomy.brain[box]
    jitter = ndimage.gaussian_filter(rng.standard_normal(wm.shape).astype(np.float32), 1.2)
    jitter /= max(float(np.abs(jitter).max()), 1e-6)
    core = lesion.core_mask
    if spec.diagnosis == "meningioma":
        near = ndimage.binary_dilation(core, iterations=2)
        allowed = (brain > 0.3) & ((wm + 0.2 * jitter > 0.35) | near)
    elif spec.diagnosis == "metastasis":
        allowed = (wm + 0.15 * jitter > 0.55) & (brain > 0.5)
    else:
        allowed = (wm + 0.3 * jitter > 0.45) & (brain > 0.5)
    allowed &= ~all_cores[box]
    allowed |= core
    structure = ndimage.generate_binary_structure(3, 2)
    region = core.copy()
    for _ in range(60):
        grown = ndimage.binary_dilation(region, structure=structure, mask=allowed)
        if grown.sum() == region.sum():
            break
        region = grown
        if (region & ~core).sum() >= target:
            break
    lesion.oedema = np.asarray(region & ~core, dtype=np.bool_)
