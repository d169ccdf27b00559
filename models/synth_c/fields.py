"""Smooth random fields and rotations, defined in millimetres so any grid can sample them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["NoiseField", "noise_field", "rotation_matrix"]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class NoiseField:
    """Band-limited noise of unit standard deviation on a coarse cubic lattice (mm).

    Args:
        values: the lattice, shape ``(n, n, n)``.
        origin_mm: the position of ``values[0, 0, 0]`` (all three axes).
        spacing_mm: the lattice step.
    """

    values: F32
    origin_mm: float
    spacing_mm: float

    def sample(self, points_mm: F32) -> F32:
        """The field at ``(3, N)`` points (trilinear; clamped outside the lattice)."""
        coords = (points_mm - self.origin_mm) / self.spacing_mm
        out = ndimage.map_coordinates(self.values, coords, order=1, mode="nearest")
        return np.asarray(out, dtype=np.float32)


def noise_field(
    rng: np.random.Generator, half_extent_mm: float, spacing_mm: float, smooth_mm: float
) -> NoiseField:
    """White noise smoothed by a Gaussian of ``smooth_mm``, rescaled to unit deviation."""
    n = int(np.ceil(2 * half_extent_mm / spacing_mm)) + 1
    white = rng.standard_normal((n, n, n), dtype=np.float32)
    smooth = ndimage.gaussian_filter(white, smooth_mm / spacing_mm, mode="wrap")
    smooth = (smooth - smooth.mean()) / max(float(smooth.std()), 1e-6)
    return NoiseField(smooth.astype(np.float32), -half_extent_mm, spacing_mm)


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> NDArray[np.float64]:
    """Rotation about z (yaw), then x (pitch), then y (roll), in degrees."""
    a, b, c = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return np.asarray(ry @ rx @ rz, dtype=np.float64)
