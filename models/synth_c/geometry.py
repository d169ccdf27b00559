"""The image grid (RAS+, mm, 240 x 240 x 155 mm field of view) and the head's pose in it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.synth_c.errors import SynthCError
from models.synth_c.fields import rotation_matrix

__all__ = ["FIELD_OF_VIEW_MM", "Grid", "Pose", "make_grid", "sample_pose"]

FIELD_OF_VIEW_MM = (240.0, 240.0, 155.0)
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Grid:
    """Voxel grid: ``shape`` and the RAS+ affine (axis-aligned, centred on 0)."""

    shape: tuple[int, int, int]
    resolution_mm: float

    @property
    def affine(self) -> F64:
        r = self.resolution_mm
        affine = np.diag([r, r, r, 1.0])
        affine[:3, 3] = [-(n - 1) / 2 * r for n in self.shape]
        return affine

    @property
    def voxel_ml(self) -> float:
        return float(self.resolution_mm**3 / 1000.0)

    def world(self, index: F32) -> F32:
        """World (RAS mm) of ``(3, N)`` voxel indices."""
        affine = self.affine.astype(np.float32)
        return np.asarray(affine[:3, :3] @ index + affine[:3, 3:4], dtype=np.float32)

    def index(self, world: F32) -> F32:
        """Voxel indices (float) of ``(3, N)`` world points."""
        affine = self.affine
        out = (world - affine[:3, 3:4]) / self.resolution_mm
        return np.asarray(out, dtype=np.float32)


def make_grid(resolution_mm: float) -> Grid:
    """The 240 x 240 x 155 mm field of view at an isotropic ``resolution_mm``."""
    if not 0.5 <= resolution_mm <= 6.0:
        raise SynthCError(f"Argument 'resolution_mm' must be within 0.5..6 mm, got {resolution_mm}")
    shape = tuple(max(8, round(fov / resolution_mm)) for fov in FIELD_OF_VIEW_MM)
    return Grid((shape[0], shape[1], shape[2]), float(resolution_mm))


@dataclass(frozen=True)
class Pose:
    """Head frame to world: ``world = rotation @ head + translation``."""

    rotation: F64
    translation: F64

    def to_world(self, head: F32) -> F32:
        out = self.rotation @ head + self.translation[:, None]
        return np.asarray(out, dtype=np.float32)

    def to_head(self, world: F32) -> F32:
        out = self.rotation.T @ (world - self.translation[:, None])
        return np.asarray(out, dtype=np.float32)

    def angles(self) -> list[float]:
        """Yaw (about z), in degrees, for the truth file."""
        return [round(float(np.degrees(np.arctan2(self.rotation[1, 0], self.rotation[0, 0]))), 2)]


def sample_pose(rng: np.random.Generator, top_mm: float) -> Pose:
    """A small random tilt and shift; ``top_mm`` (vertex above the head origin) stays in view."""
    rotation = rotation_matrix(rng.uniform(-8, 8), rng.uniform(-9, 9), rng.uniform(-5, 5))
    z = FIELD_OF_VIEW_MM[2] / 2 - top_mm - rng.uniform(3.0, 8.0)
    translation = np.array([rng.uniform(-6, 6), rng.uniform(-10, 4), z])
    return Pose(rotation, translation)
