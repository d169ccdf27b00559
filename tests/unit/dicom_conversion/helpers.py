"""Generated volumes and affines for the conversion tests."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from dicom_conversion import to_canonical


def ras_affine(
    spacing: tuple[float, float, float] = (1.0, 1.2, 2.5),
    origin: tuple[float, float, float] = (-40.5, -52.25, -30.0),
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """A RAS affine with the given spacing, origin and (x, y, z Euler) rotation."""
    rotation = Rotation.from_euler("xyz", rotation_deg, degrees=True).as_matrix()
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def random_volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A float32 volume of int16-range integers with an asymmetric structure."""
    rng = np.random.default_rng(seed)
    volume = rng.integers(-200, 3000, size=shape).astype(np.float32)
    volume[: shape[0] // 3, : shape[1] // 2, : shape[2] // 4] += 500  # breaks every symmetry
    return volume


def canonical_case(
    shape: tuple[int, int, int] = (20, 24, 12),
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A random volume in the canonical (R, A, S) orientation and its affine."""
    return to_canonical(random_volume(shape, seed), ras_affine(rotation_deg=rotation_deg))
