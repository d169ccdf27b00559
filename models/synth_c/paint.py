"""Lesions painted into the tissue volume: oedema first (white matter only), then cores."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from models.synth_c.anatomy import HeadShape, cerebrum_radius
from models.synth_c.fields import noise_field
from models.synth_c.geometry import Grid, Pose
from models.synth_c.lesions import LesionSpec
from models.synth_c.tissue import OEDEMA_BED, Tissue

__all__ = ["paint_lesions"]

F32 = NDArray[np.float32]
U8 = NDArray[np.uint8]
Crop = tuple[slice, slice, slice]


def paint_lesions(
    tissue: U8, grid: Grid, pose: Pose, head: HeadShape, lesions: list[LesionSpec]
) -> None:
    """Paint every lesion of a case into ``tissue`` (in place)."""
    cores: list[tuple[Crop, U8]] = []
    for spec in lesions:
        crop, q = _crop(grid, pose, spec)
        rng = np.random.default_rng(spec.noise_seed)
        noise = noise_field(rng, 70.0, 3.0, 5.0).sample(q - spec.centre[:, None])
        noise = noise.reshape(tissue[crop].shape)
        if spec.kind == "glioma":
            core, score = _glioma(tissue[crop], grid, pose, spec, crop, noise)
        elif spec.kind == "metastasis":
            core, score = _metastasis(tissue[crop], grid, spec, q, noise)
        else:
            core, score = _meningioma(tissue[crop], grid, head, spec, q, noise)
        _oedema(tissue[crop], score, spec.oedema_ml / grid.voxel_ml)
        cores.append((crop, core))
    for crop, core in cores:
        view = tissue[crop]
        view[core > 0] = core[core > 0]


def _crop(grid: Grid, pose: Pose, spec: LesionSpec) -> tuple[Crop, F32]:
    """The voxels around a lesion and their head-frame coordinates ``(3, n)``."""
    if spec.kind == "glioma":
        half = float(np.max(np.abs(spec.walkers))) + 24.0
    else:
        half = spec.radius_mm + spec.tail_mm + 30.0
    centre = grid.index(pose.to_world(spec.centre[:, None]))[:, 0]
    reach = half / grid.resolution_mm
    lo = [max(0, int(np.floor(centre[i] - reach))) for i in range(3)]
    hi = [min(grid.shape[i], int(np.ceil(centre[i] + reach)) + 1) for i in range(3)]
    hi = [max(hi[i], lo[i] + 1) for i in range(3)]
    crop = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    shape = [hi[i] - lo[i] for i in range(3)]
    index = np.indices(shape, dtype=np.float32).reshape(3, -1)
    index += np.asarray(lo, dtype=np.float32)[:, None]
    return crop, pose.to_head(grid.world(index))


def _top(score: F32, count: float) -> NDArray[np.bool_]:
    """The ``count`` highest finite scores (at least one voxel when any is finite)."""
    flat = score.ravel()
    finite = np.isfinite(flat)
    n = int(min(max(round(count), 1), int(finite.sum())))
    if n == 0:
        return np.zeros(score.shape, dtype=bool)
    threshold = np.partition(flat[finite], finite.sum() - n)[finite.sum() - n]
    return np.asarray(np.isfinite(score) & (score >= threshold))


def _largest(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    labels, count = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    return np.asarray(labels == int(np.argmax(sizes)) + 1)


def _parenchyma(view: U8, resolution_mm: float) -> NDArray[np.bool_]:
    """Voxels at least ~5 mm inside the brain: where an intra-axial core may grow."""
    inside = view != Tissue.BACKGROUND
    depth = max(1, int(np.ceil(5.0 / resolution_mm)))
    return np.asarray(ndimage.binary_erosion(inside, iterations=depth, border_value=1))


def _oedema(view: U8, score: F32, count: float) -> None:
    if count < 0.5:
        return
    eligible = np.isin(view, OEDEMA_BED) & np.isfinite(score)
    score = np.where(eligible, score, -np.inf).astype(np.float32)
    view[_top(score, count)] = Tissue.OEDEMA


def _core_codes(core: NDArray[np.bool_], necrotic: NDArray[np.bool_], spec: LesionSpec) -> U8:
    codes = np.zeros(core.shape, dtype=np.uint8)
    if spec.enhancement == "none":
        codes[core] = Tissue.NON_ENHANCING
        return codes
    codes[core] = Tissue.ENHANCING
    if spec.enhancement == "ring":
        codes[necrotic & core] = Tissue.NECROSIS
    return codes


def _glioma(
    view: U8,
    grid: Grid,
    pose: Pose,
    spec: LesionSpec,
    crop: Crop,
    noise: F32,
) -> tuple[U8, F32]:
    res = grid.resolution_mm
    points = grid.index(pose.to_world(spec.centre[:, None] + spec.walkers))
    lo = np.array([s.start for s in crop], dtype=np.float32)[:, None]
    idx = np.rint(points - lo).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < np.asarray(view.shape)[:, None]), axis=0)
    density = np.zeros(view.shape, dtype=np.float32)
    np.add.at(density, (idx[0, inside], idx[1, inside], idx[2, inside]), 1.0)
    density = ndimage.gaussian_filter(density, 3.5 / res) * np.exp(0.35 * noise)
    brain = _parenchyma(view, res)
    core = _largest(_top(np.where(brain, density, -np.inf), spec.core_ml / grid.voxel_ml))
    necrotic = np.zeros_like(core)
    if spec.enhancement == "ring":
        rough = density * np.exp(0.5 * np.roll(noise, 7, axis=0))
        inner = ndimage.binary_erosion(core, iterations=max(1, round(2.0 / res)))
        target = spec.necrosis_share * core.sum()
        necrotic = _top(np.where(inner, rough, -np.inf), target) if inner.any() else necrotic
    oedema = ndimage.gaussian_filter(density, 5.0 / res) * np.exp(0.3 * noise)
    return _core_codes(core, necrotic, spec), np.where(core, -np.inf, oedema).astype(np.float32)


def _metastasis(view: U8, grid: Grid, spec: LesionSpec, q: F32, noise: F32) -> tuple[U8, F32]:
    offset = q - spec.centre[:, None]
    dist = np.sqrt(np.sum(offset**2, axis=0)).reshape(view.shape)
    radius = spec.radius_mm * (1.0 + 0.07 * noise)
    parenchyma = _parenchyma(view, grid.resolution_mm)
    core = _largest((dist < radius) & parenchyma)
    if not core.any():
        core = dist <= dist[parenchyma].min() if parenchyma.any() else dist <= dist.min()
    wall = max(spec.wall_mm, 1.05 * grid.resolution_mm)
    necrotic = dist < radius - wall
    spread = ndimage.gaussian_filter(
        core.astype(np.float32), (spec.radius_mm + 5) / grid.resolution_mm
    )
    score = np.where(core, -np.inf, spread * np.exp(0.5 * noise)).astype(np.float32)
    return _core_codes(core, necrotic, spec), score


def _meningioma(
    view: U8, grid: Grid, head: HeadShape, spec: LesionSpec, q: F32, noise: F32
) -> tuple[U8, F32]:
    """A dural-based cap: its outer face follows the dura, its inner face indents the brain."""
    offset = q - spec.centre[:, None]
    along = (-np.einsum("i,in->n", spec.normal, offset)).reshape(view.shape)
    lateral = np.sqrt(np.maximum(np.sum(offset**2, axis=0).reshape(view.shape) - along**2, 0))
    surface = (1.0 - cerebrum_radius(head, q)) * sum(head.axes) / 3 + head.rim_mm + 0.8
    h = np.minimum(surface.reshape(view.shape), along + 1.0)
    r, d = spec.radius_mm, spec.wall_mm
    shape = (lateral / r) ** 2 + (h / d) ** 2
    # The planned volume exactly: the most central voxels of the lumpy cap, one piece.
    score = np.where(h > -0.8, -shape / (1.0 + 0.05 * noise) ** 2, -np.inf)
    tumour = _largest(_top(score.astype(np.float32), spec.core_ml / grid.voxel_ml))
    cleft = ((lateral / (r + spec.cleft_mm)) ** 2 + (h / (d + spec.cleft_mm)) ** 2 < 1) & (h > -0.8)
    view[cleft & ~tumour] = Tissue.CSF
    if spec.tail_mm > 0:
        taper = 1.0 - np.clip((lateral - 0.85 * r) / spec.tail_mm, 0, 1)
        band = np.abs(h + 0.2) < 0.6 + 1.2 * taper
        tail = band & (lateral > 0.85 * r) & (taper > 0) & (h < 3)
        view[tail & np.isin(view, (Tissue.CSF, Tissue.DURA)) & ~tumour] = Tissue.DURAL_TAIL
    codes = np.zeros(view.shape, dtype=np.uint8)
    codes[tumour] = Tissue.MENINGIOMA
    if spec.cyst_share > 0:
        cyst_r = (3 * spec.cyst_share * spec.core_ml * 1000 / (4 * np.pi)) ** (1 / 3)
        cyst_centre = -spec.normal * 0.55 * d
        cyst = np.sum((offset - cyst_centre[:, None]) ** 2, axis=0).reshape(view.shape) < cyst_r**2
        codes[cyst & tumour] = Tissue.CYST
    spread = ndimage.gaussian_filter(tumour.astype(np.float32), (0.6 * r + 4) / grid.resolution_mm)
    oedema = np.where(tumour | (h < 0), -np.inf, spread * np.exp(0.4 * noise)).astype(np.float32)
    return codes, oedema
