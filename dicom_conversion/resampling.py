"""Resampling an array from one grid onto another through their RAS affines."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["grids_equal", "resample_to_grid"]


def grids_equal(
    shape_a: tuple[int, ...],
    affine_a: np.ndarray,
    shape_b: tuple[int, ...],
    affine_b: np.ndarray,
    atol: float = 1e-3,
) -> bool:
    """True when two grids have the same shape and affines within ``atol`` mm."""
    return tuple(shape_a) == tuple(shape_b) and bool(np.allclose(affine_a, affine_b, atol=atol))


def resample_to_grid(
    array: np.ndarray,
    affine_src: np.ndarray,
    shape: tuple[int, int, int],
    affine_dst: np.ndarray,
    *,
    order: int = 1,
    cval: float = 0.0,
) -> np.ndarray:
    """Sample ``array`` (grid ``affine_src``) at every voxel of the destination grid.

    Both affines map voxel indices to the same patient space (both RAS or both
    LPS). ``order`` 1 is trilinear (images), 0 nearest neighbour (label masks).
    Voxels outside the source get ``cval``. Returns an array of ``array.dtype``
    for ``order=0`` and float32 otherwise.
    """
    if grids_equal(array.shape, affine_src, shape, affine_dst):
        return array if order == 0 else array.astype(np.float32, copy=False)
    voxel_to_voxel = np.linalg.inv(np.asarray(affine_src, dtype=np.float64)) @ np.asarray(
        affine_dst, dtype=np.float64
    )
    source = array if order == 0 else array.astype(np.float32, copy=False)
    out = ndimage.affine_transform(
        source,
        voxel_to_voxel[:3, :3],
        offset=voxel_to_voxel[:3, 3],
        output_shape=tuple(shape),
        order=order,
        mode="grid-constant",
        cval=cval,
        prefilter=False,
    )
    return np.asarray(out)
