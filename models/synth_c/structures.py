"""Deep structures of the procedural brain: ventricles, nuclei, cerebellum, brainstem.

The lateral ventricles are painted once per patient as tubes of spheres along two curved
centrelines on a 1 mm raster in the head frame; every grid then samples that raster, so the
ventricles keep their shape at any resolution and under the mass-effect warp.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["VentricleRaster", "paint_ventricles"]

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class VentricleRaster:
    """Soft occupancy of the lateral ventricles (and choroid plexus) on a 1 mm raster."""

    ventricle: F32
    choroid: F32
    origin_mm: tuple[float, float, float]

    def sample(self, points: F32) -> tuple[F32, F32]:
        """Occupancy (0..1) of ventricle and choroid plexus at ``(3, N)`` head-frame points."""
        coords = points - np.asarray(self.origin_mm, dtype=np.float32)[:, None]
        vent = ndimage.map_coordinates(self.ventricle, coords, order=1, cval=0.0)
        chor = ndimage.map_coordinates(self.choroid, coords, order=1, cval=0.0)
        return np.asarray(vent, dtype=np.float32), np.asarray(chor, dtype=np.float32)


def _centreline(
    side: float, length: float, roof: float, spread: float
) -> list[tuple[NDArray[np.float64], float, bool]]:
    """Sphere centres, radii and a choroid flag along one lateral ventricle (C-shaped)."""
    keys = np.array(
        [
            # x (lateral), y (anterior), z (superior), radius, choroid
            (9.0, 0.8 * length, roof - 7, 5.0, 0),
            (9.5, 0.4 * length, roof - 4, 6.5, 0),
            (11.0, -0.25 * length, roof - 3, 6.0, 1),
            (17.0, -0.75 * length, roof - 7, 8.5, 1),
            (20.0, -1.05 * length, roof - 11, 4.5, 0),
            (18.0, -1.3 * length, roof - 12, 2.5, 0),
        ]
    )
    temporal = np.array(
        [
            (17.0, -0.75 * length, roof - 7, 6.0, 1),
            (25.0, -0.65 * length, roof - 20, 4.0, 1),
            (29.0, -0.2 * length, roof - 30, 3.2, 0),
            (28.0, 0.1 * length, roof - 33, 2.2, 0),
        ]
    )
    samples: list[tuple[NDArray[np.float64], float, bool]] = []
    for branch in (keys, temporal):
        for a, b in itertools.pairwise(branch):
            steps = max(2, int(np.linalg.norm(b[:3] - a[:3]) / 1.0))
            for t in np.linspace(0.0, 1.0, steps, endpoint=False):
                p = a + t * (b - a)
                centre = np.array([side * p[0] * spread, p[1], p[2]])
                samples.append((centre, float(p[3]), bool(a[4] and b[4])))
    return samples


def paint_ventricles(
    length: float, roof: float, scale: float, spread: float, asymmetry: float
) -> VentricleRaster:
    """Both lateral ventricles; ``scale`` widens them (age, atrophy), ``asymmetry`` one side."""
    origin = (-45.0, -1.6 * length - 10, roof - 50)
    shape = (91, int(2.6 * length) + 30, 66)
    vent = np.zeros(shape, dtype=np.float32)
    chor = np.zeros(shape, dtype=np.float32)
    for side, side_scale in ((-1.0, scale * (1 + asymmetry)), (1.0, scale * (1 - asymmetry))):
        for centre, radius, choroid in _centreline(side, length, roof, spread):
            _ball(vent, centre, radius * side_scale, origin, flatten=1.15)
            if choroid:
                _ball(
                    chor,
                    centre + np.array([0, 0, -0.4 * radius]),
                    radius * 0.45,
                    origin,
                    flatten=1.0,
                )
    vent = ndimage.gaussian_filter(vent, 0.7)
    chor = ndimage.gaussian_filter(chor, 0.7) * (vent > 0.5)
    return VentricleRaster(vent, chor.astype(np.float32), origin)


def _ball(
    raster: F32,
    centre: NDArray[np.float64],
    radius: float,
    origin: tuple[float, float, float],
    flatten: float,
) -> None:
    """Set to 1 the cells of an ellipsoid (``flatten`` shortens it along z)."""
    c = centre - np.asarray(origin)
    lo = np.maximum(np.floor(c - radius - 1).astype(int), 0)
    hi = np.minimum(np.ceil(c + radius + 2).astype(int), raster.shape)
    if np.any(hi <= lo):
        return
    gx, gy, gz = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    inside = (gx - c[0]) ** 2 + (gy - c[1]) ** 2 + ((gz - c[2]) * flatten) ** 2 <= radius**2
    raster[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][inside] = 1.0
