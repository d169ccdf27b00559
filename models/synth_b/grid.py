"""The output grid: about 240 x 240 x 155 mm, isotropic, RAS+, axial slices on the third axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FIELD_OF_VIEW_MM", "GRID_CENTRE_MM", "Grid", "grid_for"]

FloatArray = npt.NDArray[np.float32]

FIELD_OF_VIEW_MM = (240.0, 240.0, 155.0)
# World (RAS, mm) coordinate of the grid centre: close to MNI's brain centre, so the
# world coordinates read roughly like MNI coordinates before the head is posed.
GRID_CENTRE_MM = (0.0, -17.0, 10.0)


@dataclass(frozen=True)
class Grid:
    """Shape and voxel-to-world affine of one output volume."""

    shape: tuple[int, int, int]
    resolution_mm: float
    affine: npt.NDArray[np.float64]

    @property
    def voxel_ml(self) -> float:
        return float(self.resolution_mm**3 / 1000.0)

    def axis_mm(self, axis: int) -> FloatArray:
        """World coordinate (mm) of the voxel centres along one axis."""
        n = self.shape[axis]
        return np.asarray(
            self.affine[axis, 3] + self.resolution_mm * np.arange(n), dtype=np.float32
        )

    def crop(self, lo: tuple[int, int, int], hi: tuple[int, int, int]) -> Grid:
        """The sub-grid of voxels ``lo <= v < hi`` (same spacing, shifted origin)."""
        affine = self.affine.copy()
        affine[:3, 3] = self.to_world(np.asarray(lo, dtype=np.float64))
        shape = (hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])
        return Grid(shape=shape, resolution_mm=self.resolution_mm, affine=affine)

    def to_world(self, voxel: npt.ArrayLike) -> npt.NDArray[np.float64]:
        v = np.asarray(voxel, dtype=np.float64)
        return np.asarray(self.affine[:3, :3] @ v + self.affine[:3, 3], dtype=np.float64)

    def to_voxel(self, world: npt.ArrayLike) -> npt.NDArray[np.float64]:
        w = np.asarray(world, dtype=np.float64)
        return np.asarray((w - self.affine[:3, 3]) / self.resolution_mm, dtype=np.float64)


def grid_for(resolution_mm: float) -> Grid:
    """The isotropic output grid at ``resolution_mm`` (240 x 240 x 155 mm)."""
    if not resolution_mm > 0:
        raise ValueError(f"Argument 'resolution_mm' must be positive, got {resolution_mm}")
    shape = tuple(max(8, round(fov / resolution_mm)) for fov in FIELD_OF_VIEW_MM)
    affine = np.eye(4)
    for axis in range(3):
        affine[axis, axis] = resolution_mm
        affine[axis, 3] = GRID_CENTRE_MM[axis] - (shape[axis] - 1) / 2.0 * resolution_mm
    return Grid(
        shape=(shape[0], shape[1], shape[2]), resolution_mm=float(resolution_mm), affine=affine
    )
