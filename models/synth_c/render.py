"""The four images of a case: intensities, texture, point spread, bias field, Rician noise.

The scanner sees the whole head; skull stripping then zeroes everything outside the brain
mask, so the background is exactly 0 as in skull-stripped BraTS data.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from models.synth_c.acquisition import SEQUENCES, Acquisition
from models.synth_c.tissue import Tissue

__all__ = ["render_images", "smooth_volume"]

F32 = NDArray[np.float32]
I16 = NDArray[np.int16]


def _upsampler(n: int, cell: float, coarse: int) -> F32:
    """Linear interpolation from ``coarse`` lattice points to ``n`` voxels, as a matrix."""
    position = np.arange(n, dtype=np.float64) / cell + 0.5
    low = np.clip(np.floor(position).astype(np.int64), 0, coarse - 2)
    weight = np.clip(position - low, 0.0, 1.0)
    matrix = np.zeros((n, coarse), dtype=np.float32)
    matrix[np.arange(n), low] = 1.0 - weight
    matrix[np.arange(n), low + 1] = weight
    return matrix


def smooth_volume(
    rng: np.random.Generator, shape: tuple[int, int, int], cell: float, smooth_cells: float
) -> F32:
    """Unit-deviation noise varying over ``cell`` voxels, upsampled (separably) to ``shape``."""
    coarse_shape = tuple(int(np.ceil(n / cell)) + 2 for n in shape)
    coarse = ndimage.gaussian_filter(
        rng.standard_normal(coarse_shape, dtype=np.float32), smooth_cells, mode="wrap"
    )
    coarse = (coarse - coarse.mean()) / max(float(coarse.std()), 1e-6)
    mx, my, mz = (_upsampler(n, cell, m) for n, m in zip(shape, coarse_shape, strict=True))
    big = np.tensordot(mx, coarse, axes=(1, 0))
    big = np.tensordot(big, my, axes=(1, 1)).transpose(0, 2, 1)
    big = np.tensordot(big, mz, axes=(2, 1))
    return np.ascontiguousarray(big, dtype=np.float32)


def render_images(
    tissue: NDArray[np.uint8], acquisition: Acquisition, resolution_mm: float
) -> dict[str, I16]:
    """Render t1n, t1c, t2w, t2f from the tissue volume."""
    rng = np.random.default_rng(acquisition.field_seed)
    shape = (tissue.shape[0], tissue.shape[1], tissue.shape[2])
    mask = tissue != Tissue.BACKGROUND
    texture = smooth_volume(rng, shape, max(2.5 / resolution_mm, 1.0), 1.0)
    grain = 1.0 + acquisition.texture[tissue] * texture
    del texture
    sigma_z = acquisition.blur_vox
    if acquisition.slice_mm > resolution_mm:
        sigma_z = max(sigma_z, acquisition.slice_mm / (2.355 * resolution_mm))
    sigma = (acquisition.blur_vox, acquisition.blur_vox, sigma_z)
    out: dict[str, I16] = {}
    for name in SEQUENCES:
        table = acquisition.tables[name]
        image = table[tissue] * grain
        image = ndimage.gaussian_filter(image, sigma, truncate=3.0)
        bias = smooth_volume(rng, shape, 40.0 / resolution_mm, 1.0)
        image *= np.exp(acquisition.bias * bias)
        del bias
        brain_mean = float(table[[Tissue.WHITE_MATTER, Tissue.GREY_MATTER, Tissue.CSF]].mean())
        scale = acquisition.gain[name]
        level = image[mask] * scale
        noise_sd = acquisition.noise[name] * brain_mean * scale
        real = level + rng.normal(0.0, noise_sd, level.shape).astype(np.float32)
        imag = rng.normal(0.0, noise_sd, level.shape).astype(np.float32)
        result = np.zeros(shape, dtype=np.int16)
        result[mask] = np.clip(np.rint(np.sqrt(real**2 + imag**2)), 0, 32767).astype(np.int16)
        out[name] = result
    return out
