"""Where lesions may grow: a coarse head-frame map of the patient's own anatomy.

Sites come from the procedural brain itself (deep white matter for gliomas, the grey-white
junction for metastases, the outer surface for meningiomas), never from a template.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from models.synth_c.anatomy import HeadShape, cerebrum_radius, tissue_at
from models.synth_c.tissue import Tissue

__all__ = ["SiteMap", "map_sites"]

F32 = NDArray[np.float32]
SPACING_MM = 3.0


@dataclass(frozen=True)
class SiteMap:
    """Tissue and cerebral depth of one patient on a 3 mm head-frame lattice."""

    tissue: NDArray[np.uint8]  # (nx, ny, nz)
    depth: F32  # mm below the cerebral surface (< 0 outside)
    junction: NDArray[np.bool_]  # white matter touching grey matter
    origin: F32  # (3,) head-frame mm of [0, 0, 0]

    def points(self, mask: NDArray[np.bool_]) -> F32:
        """Head-frame mm of the lattice cells in ``mask``, as ``(3, N)``."""
        idx = np.asarray(np.nonzero(mask), dtype=np.float32)
        return np.asarray(idx * SPACING_MM + self.origin[:, None], dtype=np.float32)

    def tissue_near(self, q: F32) -> NDArray[np.uint8]:
        """The lattice tissue nearest to ``(3, N)`` points (background outside)."""
        idx = np.rint((q - self.origin[:, None]) / SPACING_MM).astype(np.int64)
        shape = np.asarray(self.tissue.shape)[:, None]
        inside = np.all((idx >= 0) & (idx < shape), axis=0)
        out = np.zeros(q.shape[1], dtype=np.uint8)
        out[inside] = self.tissue[idx[0, inside], idx[1, inside], idx[2, inside]]
        return out


def map_sites(head: HeadShape) -> SiteMap:
    """Evaluate the patient's brain on the coarse lattice once."""
    a, b, c = head.axes
    origin = np.array([-(a + 9), -(b + 9), -(c + 24)], dtype=np.float32)
    shape = tuple(int(n) for n in np.ceil(np.array([2 * a + 18, 2 * b + 18, 2 * c + 33]) / 3))
    grid = np.indices(shape, dtype=np.float32).reshape(3, -1) * SPACING_MM + origin[:, None]
    tissue = tissue_at(head, grid).reshape(shape)
    depth = ((1.0 - cerebrum_radius(head, grid)) * (a + b + c) / 3).reshape(shape)
    white = tissue == Tissue.WHITE_MATTER
    grey = tissue == Tissue.GREY_MATTER
    junction = white & ndimage.binary_dilation(grey)
    return SiteMap(tissue, depth.astype(np.float32), junction, origin)


def pick(rng: np.random.Generator, points: F32, away_from: list[F32], gap: list[float]) -> F32:
    """One of ``points`` (3, N), at least ``gap[i]`` mm from each ``away_from[i]``."""
    ok = np.ones(points.shape[1], dtype=bool)
    for centre, distance in zip(away_from, gap, strict=True):
        ok &= np.linalg.norm(points - centre[:, None], axis=0) >= distance
    candidates = np.flatnonzero(ok)
    if candidates.size == 0:
        candidates = np.arange(points.shape[1])
    chosen = points[:, int(rng.choice(candidates))]
    jitter = rng.uniform(-SPACING_MM / 2, SPACING_MM / 2, 3)
    return np.asarray(chosen + jitter, dtype=np.float32)
