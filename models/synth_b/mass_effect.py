"""Mass effect: the brain pushed away from a lesion, volume-preserving, fading with distance.

A point at distance ``r`` from the lesion centre moves to ``(r**3 + R**3) ** (1/3)``; the
output samples the tissue maps at the inverse position. Done in a box, tapered to zero
at its edge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.anatomy import Anatomy

__all__ = ["push_tissue"]

FloatArray = npt.NDArray[np.float32]


def push_tissue(anatomy: Anatomy, centre: npt.NDArray[np.float64], radius_vox: float) -> None:
    """Push GM, WM, CSF and ventricles away from ``centre`` by a sphere of ``radius_vox``."""
    if radius_vox < 0.5:
        return
    shape = anatomy.gm.shape
    outer = max(2.5 * radius_vox, radius_vox + 5.0)
    lo = [max(int(np.floor(c - outer)), 0) for c in centre]
    hi = [min(int(np.ceil(c + outer)) + 1, n) for c, n in zip(centre, shape, strict=True)]
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
    axes = [
        np.arange(a, b, dtype=np.float32) - np.float32(c)
        for a, b, c in zip(lo, hi, centre, strict=True)
    ]
    dx, dy, dz = np.meshgrid(*axes, indexing="ij")
    r = np.sqrt(dx**2 + dy**2 + dz**2) + 1e-6
    source_r = np.cbrt(np.clip(r**3 - radius_vox**3, 0.0, None))
    t = np.clip((r - radius_vox) / (outer - radius_vox), 0.0, 1.0)
    taper = 0.5 * (1.0 + np.cos(np.pi * t))
    scale = 1.0 - (1.0 - source_r / r) * taper
    coords = np.stack(
        [
            dx * scale + np.float32(centre[0]),
            dy * scale + np.float32(centre[1]),
            dz * scale + np.float32(centre[2]),
        ]
    )
    for name in ("gm", "wm", "csf", "ventricles"):
        volume: FloatArray = getattr(anatomy, name)
        moved = ndimage.map_coordinates(volume, coords, order=1, mode="nearest")
        volume[box] = moved
