"""The normal anatomy: the MNI152 2009a template and its tissue maps on the BraTS grid.

The ICBM 2009a nonlinear symmetric template ships inside the nilearn wheel
(skull-stripped T1 plus grey- and white-matter probability maps at 1 mm). CSF is
the brain mask minus grey and white matter. The template is placed on the BraTS
field of view (240 x 240 x 155 mm) at the requested resolution; the grid's
world coordinates are MNI millimetres (RAS+), so lesion plans written in mm do not
depend on the resolution.

Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal
Neurological Institute, McGill University (the template's licence asks that this
notice be kept with derived data).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from models.synth.errors import SynthesisError, TemplateNotFoundError

__all__ = [
    "FIELD_OF_VIEW_MM",
    "GRID_CENTRE_MM",
    "Template",
    "grid_affine",
    "grid_shape",
    "load_template",
    "template_directory",
    "tissue_fractions",
]

FIELD_OF_VIEW_MM = (240.0, 240.0, 155.0)
"""The BraTS field of view (240 x 240 x 155 voxels of 1 mm)."""

GRID_CENTRE_MM = (0.0, -17.0, 5.0)
"""World (MNI) point at the centre of the grid: the centre of the template's brain."""

_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
_POINT_STRIDE_MM = 3


def template_directory() -> Path:
    """Folder of nilearn's packaged data, found without importing ``nilearn.datasets``."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or spec.origin is None:
        raise TemplateNotFoundError("nilearn is not installed: the MNI152 template ships in it")
    folder = Path(spec.origin).parent / "datasets" / "data"
    missing = [name for name in _FILES.values() if not (folder / name).is_file()]
    if missing:
        raise TemplateNotFoundError(f"MNI152 files missing from {folder}: {', '.join(missing)}")
    return folder


def grid_shape(resolution_mm: float) -> tuple[int, int, int]:
    """Shape of the BraTS field of view at ``resolution_mm`` (240x240x155 at 1 mm)."""
    if not 0.5 <= resolution_mm <= 8.0:
        raise SynthesisError(f"resolution_mm={resolution_mm} is outside 0.5..8 mm")
    nx, ny, nz = (max(8, round(fov / resolution_mm)) for fov in FIELD_OF_VIEW_MM)
    return (nx, ny, nz)


def grid_affine(resolution_mm: float) -> NDArray[np.float64]:
    """Voxel-to-RAS+ affine of the grid: isotropic, axes R, A, S, centred on the brain."""
    shape = grid_shape(resolution_mm)
    affine = np.diag([resolution_mm, resolution_mm, resolution_mm, 1.0])
    for axis in range(3):
        affine[axis, 3] = GRID_CENTRE_MM[axis] - resolution_mm * (shape[axis] - 1) / 2.0
    return affine


@dataclass(frozen=True, eq=False)
class Template:
    """Tissue maps on the grid, plus candidate lesion sites in world millimetres.

    Attributes:
        resolution_mm: Voxel size.
        affine: Voxel-to-RAS+ affine of the grid (world = MNI mm).
        csf, gm, wm: Tissue fractions in [0, 1], float32.
        texture: Template T1 minus its tissue-class fit, in units of white-matter T1.
        depth_mm: Signed distance to the brain surface (positive inside).
        deep_wm_mm: Candidate glioma centres (white matter at least 12 mm deep).
        junction_mm: Candidate metastasis centres (grey-white junction).
        surface_mm: Candidate meningioma bases (brain surface points).
        surface_normal: Outward unit normals at ``surface_mm``.
    """

    resolution_mm: float
    affine: NDArray[np.float64]
    csf: NDArray[np.float32]
    gm: NDArray[np.float32]
    wm: NDArray[np.float32]
    texture: NDArray[np.float32]
    depth_mm: NDArray[np.float32]
    deep_wm_mm: NDArray[np.float64]
    junction_mm: NDArray[np.float64]
    surface_mm: NDArray[np.float64]
    surface_normal: NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape (X, Y, Z)."""
        x, y, z = self.gm.shape
        return (x, y, z)

    def world_to_voxel(self, points_mm: NDArray[np.float64]) -> NDArray[np.float64]:
        """Continuous voxel indices of world points, shape (N, 3)."""
        return (np.asarray(points_mm, dtype=np.float64) - self.affine[:3, 3]) / self.resolution_mm


@dataclass(frozen=True, eq=False)
class _Mni:
    affine: NDArray[np.float64]
    t1: NDArray[np.float32]
    gm: NDArray[np.float32]
    wm: NDArray[np.float32]
    brain: NDArray[np.bool_]
    deep_wm_mm: NDArray[np.float64]
    junction_mm: NDArray[np.float64]
    surface_mm: NDArray[np.float64]
    surface_normal: NDArray[np.float64]


def _load(path: Path) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    image: Any = nib.load(path)
    data = np.asarray(image.get_fdata(dtype=np.float32), dtype=np.float32) / np.float32(255.0)
    return data, np.asarray(image.affine, dtype=np.float64)


@functools.lru_cache(maxsize=1)
def _mni() -> _Mni:
    folder = template_directory()
    t1, affine = _load(folder / _FILES["t1"])
    gm, _ = _load(folder / _FILES["gm"])
    wm, _ = _load(folder / _FILES["wm"])
    brain = t1 > 0
    gm *= brain
    wm *= brain
    scale = np.sum(gm + wm, axis=None)
    if not np.isfinite(scale) or scale <= 0:
        raise TemplateNotFoundError(f"MNI152 tissue maps in {folder} are empty")
    depth = ndi.distance_transform_edt(brain).astype(np.float32)

    stride = np.zeros(brain.shape, dtype=bool)
    stride[::_POINT_STRIDE_MM, ::_POINT_STRIDE_MM, ::_POINT_STRIDE_MM] = True
    # Keep clear of the lowest slices (brainstem cut at the template's edge).
    stride[:, :, :20] = False

    def to_mm(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        idx = np.argwhere(mask & stride).astype(np.float64)
        return idx @ affine[:3, :3].T + affine[:3, 3]

    deep_wm = (wm > 0.9) & (depth >= 12)
    junction = (np.abs(gm - wm) < 0.3) & (gm + wm > 0.85) & (depth >= 5)
    eroded = ndi.binary_erosion(brain)
    surface = brain & ~eroded & (depth <= 1.5)
    surface_idx = np.argwhere(surface & stride)
    smooth = ndi.gaussian_filter(brain.astype(np.float32), 3.0)
    grads = np.stack([ndi.sobel(smooth, axis=a) for a in range(3)], axis=-1)
    normals = -grads[tuple(surface_idx.T)].astype(np.float64)
    norm = np.linalg.norm(normals, axis=1, keepdims=True)
    ok = norm[:, 0] > 1e-6
    surface_mm = surface_idx[ok].astype(np.float64) @ affine[:3, :3].T + affine[:3, 3]
    # Convexity and skull-base surfaces, not the cut at the template's bottom.
    keep = surface_mm[:, 2] > -40
    return _Mni(
        affine=affine,
        t1=t1,
        gm=gm,
        wm=wm,
        brain=brain,
        deep_wm_mm=to_mm(deep_wm),
        junction_mm=to_mm(junction),
        surface_mm=surface_mm[keep],
        surface_normal=(normals[ok] / norm[ok])[keep],
    )


def _resample(
    volume: NDArray[np.float32], mni_affine: NDArray[np.float64], res: float
) -> NDArray[np.float32]:
    target = grid_affine(res)
    if res > 1.0:
        volume = ndi.gaussian_filter(volume, 0.4 * res)
    matrix = np.diag(np.diag(target)[:3] / np.diag(mni_affine)[:3])
    offset = (target[:3, 3] - mni_affine[:3, 3]) / np.diag(mni_affine)[:3]
    out = ndi.affine_transform(
        volume, matrix, offset=offset, output_shape=grid_shape(res), order=1, cval=0.0
    )
    return np.asarray(out, dtype=np.float32)


def tissue_fractions(points_mm: NDArray[np.float64]) -> NDArray[np.float32]:
    """Grey- and white-matter fractions (N, 2) of the 1 mm template at world points."""
    mni = _mni()
    pts = np.atleast_2d(np.asarray(points_mm, dtype=np.float64))
    voxels = (pts - mni.affine[:3, 3]) / np.diag(mni.affine)[:3]
    coords = voxels.T
    gm = ndi.map_coordinates(mni.gm, coords, order=1, mode="constant", cval=0.0)
    wm = ndi.map_coordinates(mni.wm, coords, order=1, mode="constant", cval=0.0)
    return np.asarray(np.stack([gm, wm], axis=1), dtype=np.float32)


@functools.lru_cache(maxsize=4)
def load_template(resolution_mm: float = 1.0) -> Template:
    """The MNI152 anatomy on the BraTS grid at ``resolution_mm`` (cached per process)."""
    mni = _mni()
    res = float(resolution_mm)
    gm = _resample(mni.gm, mni.affine, res)
    wm = _resample(mni.wm, mni.affine, res)
    brain = _resample(mni.brain.astype(np.float32), mni.affine, res)
    t1 = _resample(mni.t1, mni.affine, res)
    brain_mask = brain > 0.5
    gm = np.clip(gm, 0, 1) * brain_mask
    wm = np.clip(wm, 0, 1) * brain_mask
    total = gm + wm
    over = total > 1
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = np.clip(1.0 - gm - wm, 0, 1) * brain_mask
    inside = brain_mask & (t1 > 0)
    design = np.stack([csf[inside], gm[inside], wm[inside]], axis=1)
    coef, *_ = np.linalg.lstsq(design, t1[inside], rcond=None)
    white = float(coef[2]) if coef[2] > 0 else 1.0
    texture = np.zeros_like(t1)
    texture[inside] = (t1[inside] - design @ coef) / white
    depth = ndi.distance_transform_edt(brain_mask) - ndi.distance_transform_edt(~brain_mask)
    return Template(
        resolution_mm=res,
        affine=grid_affine(res),
        csf=csf.astype(np.float32),
        gm=gm.astype(np.float32),
        wm=wm.astype(np.float32),
        texture=np.clip(texture, -0.5, 0.5).astype(np.float32),
        depth_mm=(depth * res).astype(np.float32),
        deep_wm_mm=mni.deep_wm_mm,
        junction_mm=mni.junction_mm,
        surface_mm=mni.surface_mm,
        surface_normal=mni.surface_normal,
    )
