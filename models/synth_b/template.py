"""nilearn's MNI152 (2009) tissue maps, the only anatomy generator B starts from.

GM and WM are nilearn's probability maps; CSF is the brain mask less GM and WM; the
ventricles are the deep, central part of that CSF. Loaded once per process and
resolution (block-averaged to 2 mm for coarse output grids).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["TemplateMaps", "load_template"]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TemplateMaps:
    """Tissue fractions on the template grid and its voxel-to-MNI affine."""

    gm: FloatArray
    wm: FloatArray
    csf: FloatArray
    ventricles: FloatArray
    affine: npt.NDArray[np.float64]

    @property
    def spacing_mm(self) -> float:
        return float(self.affine[0, 0])

    def brain_bounds_mm(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """MNI corners (min, max) of the box holding every brain voxel."""
        voxels = np.argwhere((self.gm + self.wm + self.csf) > 0.01)
        lo = self.affine[:3, 3] + self.spacing_mm * voxels.min(axis=0)
        hi = self.affine[:3, 3] + self.spacing_mm * voxels.max(axis=0)
        return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def _block_mean(volume: FloatArray, factor: int) -> FloatArray:
    if factor == 1:
        return volume
    pad = [(0, (-n) % factor) for n in volume.shape]
    v = np.pad(volume, pad)
    sx, sy, sz = (n // factor for n in v.shape)
    blocks = v.reshape(sx, factor, sy, factor, sz, factor)
    return np.asarray(blocks.mean(axis=(1, 3, 5)), dtype=np.float32)


def _ventricles(
    csf: FloatArray, brain: npt.NDArray[np.bool_], affine: npt.NDArray[np.float64]
) -> FloatArray:
    """The lateral and third ventricles: large deep CSF components near the centre."""
    spacing = float(affine[0, 0])
    axes = [affine[a, 3] + spacing * np.arange(csf.shape[a]) for a in range(3)]
    x, y, z = np.meshgrid(*axes, indexing="ij", sparse=True)
    central = (np.abs(x) < 34) & (y > -52) & (y < 36) & (z > -12) & (z < 36)
    depth = ndimage.distance_transform_edt(brain) * spacing
    candidate = (csf > 0.5) & central & (depth > 12.0)
    labels, count = ndimage.label(candidate)
    if count == 0:
        return np.zeros_like(csf)
    sizes = ndimage.sum_labels(candidate, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(sizes >= max(sizes.max() * 0.05, 8)) + 1
    core = np.isin(labels, keep)
    core = ndimage.binary_dilation(core, iterations=1) & (csf > 0.2)
    return np.asarray(np.where(core, csf, 0.0), dtype=np.float32)


@functools.lru_cache(maxsize=3)
def load_template(resolution_mm: float) -> TemplateMaps:
    """The MNI152 tissue maps at 1 mm (fine output grids) or 2 mm (coarser ones)."""
    from nilearn import datasets

    gm_img = datasets.load_mni152_gm_template(resolution=1)
    wm_img = datasets.load_mni152_wm_template(resolution=1)
    mask_img = datasets.load_mni152_brain_mask(resolution=1)
    affine = np.asarray(gm_img.affine, dtype=np.float64)
    gm = np.asarray(gm_img.get_fdata(dtype=np.float32), dtype=np.float32)
    wm = np.asarray(wm_img.get_fdata(dtype=np.float32), dtype=np.float32)
    mask = np.asarray(mask_img.dataobj) > 0
    mask = ndimage.binary_fill_holes(mask) | ((gm + wm) > 0.5)
    total = gm + wm
    over = total > 1.0
    gm[over] /= total[over]
    wm[over] /= total[over]
    csf = np.clip(mask.astype(np.float32) - gm - wm, 0.0, 1.0).astype(np.float32)
    factor = 1 if resolution_mm < 1.5 else 2
    if factor > 1:
        gm, wm, csf = (_block_mean(v, factor) for v in (gm, wm, csf))
        mask = _block_mean(mask.astype(np.float32), factor) > 0.5
        affine = affine.copy()
        affine[:3, :3] *= factor
        affine[:3, 3] += (factor - 1) / 2.0
    ventricles = _ventricles(csf, mask, affine)
    return TemplateMaps(gm=gm, wm=wm, csf=csf, ventricles=ventricles, affine=affine)
