"""Resampling 2-D planes on a square grid of a fixed physical size."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["crop_at"]


def crop_at(
    planes: np.ndarray,
    centre: tuple[float, float],
    spacing_ij: tuple[float, float],
    *,
    size_px: int,
    pixel_mm: float,
    order: int = 1,
) -> np.ndarray:
    """Resample ``planes`` ``[C, X, Y]`` on a square grid centred on ``centre``.

    Args:
        planes: stacked 2-D planes sharing one grid.
        centre: ``(i, j)`` voxel position of the crop centre.
        spacing_ij: voxel size in mm along ``i`` and ``j``.
        size_px: output side in pixels.
        pixel_mm: output pixel size in mm.
        order: spline order (1 linear, 0 nearest for labels).

    Returns:
        float32 ``[C, size_px, size_px]``; outside the image is 0.
    """
    offsets = (np.arange(size_px, dtype=np.float64) - (size_px - 1) / 2.0) * pixel_mm
    ii = centre[0] + offsets / spacing_ij[0]
    jj = centre[1] + offsets / spacing_ij[1]
    grid_i, grid_j = np.meshgrid(ii, jj, indexing="ij")
    coords = np.stack([grid_i, grid_j])
    out = np.empty((planes.shape[0], size_px, size_px), dtype=np.float32)
    for c in range(planes.shape[0]):
        out[c] = ndimage.map_coordinates(
            planes[c], coords, order=order, mode="constant", cval=0.0, prefilter=False
        )
    return out
