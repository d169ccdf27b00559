"""One patient's brain: MNI152 warped, resized, flipped, atrophied, ventricles resized.

The patient grid has the output grid's geometry; the head pose of an acquisition is
applied later (:mod:`models.synth_b.acquisition`). The map from patient space to MNI
space is ``t = F((p - c) / s) + c + d(p)`` with ``s`` a per-axis head size, ``F`` an
optional left-right mirror and ``d`` a smooth random displacement of 5-10 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.fields import basis_weights, smooth_field
from models.synth_b.grid import GRID_CENTRE_MM, Grid
from models.synth_b.template import TemplateMaps

__all__ = [
    "Anatomy",
    "AnatomyParams",
    "build_anatomy",
    "patient_grid",
    "sample_anatomy_params",
]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AnatomyParams:
    """The random choices that make one patient's brain."""

    scale: tuple[float, float, float]
    flip: bool
    displacement_mm: float
    displacement_spacing_mm: float
    displacement_seed: int
    atrophy: float
    ventricle_change_mm: float
    sharpness: float


@dataclass
class Anatomy:
    """Tissue fractions on the patient grid and the MNI coordinates of every voxel."""

    gm: FloatArray
    wm: FloatArray
    csf: FloatArray
    ventricles: FloatArray
    mni: FloatArray  # (3, X, Y, Z) MNI coordinate each voxel was drawn from
    flip: bool

    @property
    def brain(self) -> FloatArray:
        return np.asarray(self.gm + self.wm + self.csf, dtype=np.float32)

    def patient_side(self) -> FloatArray:
        """MNI x of each voxel mirrored back when flipped: > 0 is the patient's right."""
        sign = -1.0 if self.flip else 1.0
        return np.asarray(sign * self.mni[0], dtype=np.float32)


def sample_anatomy_params(rng: np.random.Generator, age: int) -> AnatomyParams:
    """Head size, mirror, warp, atrophy (older: more) and ventricle size of a patient."""
    iso = rng.uniform(0.9, 1.08)
    scale = tuple(float(iso * rng.uniform(0.95, 1.05)) for _ in range(3))
    atrophy = float(np.clip((age - 35) / 90.0 + rng.normal(0.0, 0.12), 0.0, 0.6))
    return AnatomyParams(
        scale=(scale[0], scale[1], scale[2]),
        flip=bool(rng.random() < 0.5),
        displacement_mm=float(rng.uniform(5.0, 10.0)),
        displacement_spacing_mm=float(rng.uniform(30.0, 50.0)),
        displacement_seed=int(rng.integers(0, 2**31 - 1)),
        atrophy=atrophy,
        ventricle_change_mm=float(rng.uniform(-2.5, 4.0) + 3.0 * atrophy),
        sharpness=float(rng.uniform(2.0, 3.5)),
    )


def patient_grid(params: AnatomyParams, grid: Grid, template: TemplateMaps) -> Grid:
    """The part of ``grid`` that can hold this patient's brain (work is done there only)."""
    lo_mm, hi_mm = template.brain_bounds_mm()
    margin = params.displacement_mm + 2.0 * grid.resolution_mm
    lo, hi = [], []
    for a in range(3):
        ends = [
            GRID_CENTRE_MM[a] + params.scale[a] * (v - GRID_CENTRE_MM[a])
            for v in (lo_mm[a], hi_mm[a])
        ]
        if a == 0 and params.flip:
            ends = [2 * GRID_CENTRE_MM[a] - v for v in ends]
        first = (min(ends) - margin - grid.affine[a, 3]) / grid.resolution_mm
        last = (max(ends) + margin - grid.affine[a, 3]) / grid.resolution_mm
        lo.append(max(int(np.floor(first)), 0))
        hi.append(min(int(np.ceil(last)) + 1, grid.shape[a]))
    return grid.crop((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]))


def _mni_coordinates(params: AnatomyParams, grid: Grid) -> FloatArray:
    axes = [grid.axis_mm(a) for a in range(3)]
    rng = np.random.default_rng(params.displacement_seed)
    weights = [basis_weights(a, params.displacement_spacing_mm) for a in axes]
    lattice = tuple(w.shape[1] for w in weights)
    disp = [
        smooth_field(rng.standard_normal(lattice).astype(np.float32), *weights) for _ in range(3)
    ]
    peak = max(float(np.sqrt(sum(d.astype(np.float64) ** 2 for d in disp)).max()), 1e-6)
    gain = params.displacement_mm / peak
    coords = np.empty((3, *grid.shape), dtype=np.float32)
    for a in range(3):
        q = (axes[a] - GRID_CENTRE_MM[a]) / params.scale[a]
        if a == 0 and params.flip:
            q = -q
        shape = [1, 1, 1]
        shape[a] = -1
        coords[a] = q.reshape(shape) + GRID_CENTRE_MM[a] + gain * disp[a]
    return coords


def _ball(radius: int) -> npt.NDArray[np.bool_]:
    r = np.arange(-radius, radius + 1)
    x, y, z = np.meshgrid(r, r, r, indexing="ij", sparse=True)
    return np.asarray(x**2 + y**2 + z**2 <= radius**2 + 0.5, dtype=np.bool_)


def _resize_ventricles(anatomy: Anatomy, change_mm: float, resolution_mm: float) -> None:
    steps = int(np.round(change_mm / resolution_mm))
    vent = anatomy.ventricles
    present = np.argwhere(vent > 0.05)
    if steps == 0 or present.size == 0:
        return
    pad = abs(steps) + 2
    lo = np.maximum(present.min(axis=0) - pad, 0)
    hi = np.minimum(present.max(axis=0) + pad + 1, vent.shape)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    v = vent[box]
    gm, wm, csf = anatomy.gm[box], anatomy.wm[box], anatomy.csf[box]
    if steps > 0:
        grown = ndimage.grey_dilation(v, footprint=_ball(steps))
        tissue = gm + wm
        delta = np.minimum(np.clip(grown - v, 0.0, None), tissue)
        share = np.divide(delta, tissue, out=np.zeros_like(delta), where=tissue > 1e-6)
        gm -= gm * share
        wm -= wm * share
        csf += delta
        v += delta
    else:
        shrunk = ndimage.grey_erosion(v, footprint=_ball(-steps))
        delta = np.clip(v - shrunk, 0.0, None)
        csf -= delta
        v -= delta
        wm += delta


def _sharpen(anatomy: Anatomy, power: float) -> None:
    """Crisper tissue boundaries than the population-average template: ``p**power``,
    renormalised with the background so that the brain's outline stays put."""
    background = np.clip(1.0 - anatomy.brain, 0.0, 1.0)
    parts = [anatomy.gm, anatomy.wm, anatomy.csf, background]
    powered = [np.power(p, power, dtype=np.float32) for p in parts]
    total = powered[0] + powered[1] + powered[2] + powered[3] + 1e-6
    share_vent = np.divide(
        anatomy.ventricles, anatomy.csf, out=np.zeros_like(anatomy.csf), where=anatomy.csf > 1e-6
    )
    anatomy.gm = np.asarray(powered[0] / total, dtype=np.float32)
    anatomy.wm = np.asarray(powered[1] / total, dtype=np.float32)
    anatomy.csf = np.asarray(powered[2] / total, dtype=np.float32)
    anatomy.ventricles = np.asarray(anatomy.csf * np.clip(share_vent, 0.0, 1.0), dtype=np.float32)


def _atrophy(anatomy: Anatomy, level: float, resolution_mm: float) -> None:
    if level <= 0:
        return
    sulcal = np.clip(anatomy.csf - anatomy.ventricles, 0.0, 1.0)
    near = ndimage.gaussian_filter(sulcal, sigma=2.0 / resolution_mm)
    loss = level * anatomy.gm * np.clip(2.5 * near, 0.0, 1.0)
    anatomy.gm -= loss
    anatomy.csf += loss


def build_anatomy(params: AnatomyParams, grid: Grid, template: TemplateMaps) -> Anatomy:
    """Warp the template onto the patient grid and apply the patient's changes."""
    mni = _mni_coordinates(params, grid)
    origin = template.affine[:3, 3]
    spacing = template.spacing_mm
    voxel = np.empty_like(mni)
    for a in range(3):
        voxel[a] = (mni[a] - origin[a]) / spacing
    maps = []
    for volume in (template.gm, template.wm, template.csf, template.ventricles):
        maps.append(
            np.asarray(
                ndimage.map_coordinates(volume, voxel, order=1, mode="constant"), dtype=np.float32
            )
        )
    anatomy = Anatomy(
        gm=maps[0], wm=maps[1], csf=maps[2], ventricles=maps[3], mni=mni, flip=params.flip
    )
    _sharpen(anatomy, params.sharpness)
    _resize_ventricles(anatomy, params.ventricle_change_mm, grid.resolution_mm)
    _atrophy(anatomy, params.atrophy, grid.resolution_mm)
    return anatomy
