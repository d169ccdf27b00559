"""Where lesions go: candidate voxels of each site in the patient's brain (pre mass effect)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.anatomy import Anatomy

__all__ = ["SITES", "Sites"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SITES = ("deep", "callosal", "junction", "cerebellum", "convexity", "falx", "skull_base")


class Sites:
    """Candidate voxels per site (computed on demand), the intracranial mask and normals."""

    def __init__(self, anatomy: Anatomy, resolution_mm: float) -> None:
        self._anatomy = anatomy
        self._resolution_mm = resolution_mm
        self._candidates: dict[str, IntArray] = {}
        self.intracranial: BoolArray = np.asarray(
            ndimage.binary_fill_holes(anatomy.brain > 0.5), dtype=np.bool_
        )
        self._surface: BoolArray | None = None

    @property
    def white_matter(self) -> npt.NDArray[np.float32]:
        return self._anatomy.wm

    def _smooth(self, volume: npt.NDArray[np.float32], sigma_mm: float) -> npt.NDArray[np.float32]:
        out = ndimage.gaussian_filter(volume, sigma_mm / self._resolution_mm, truncate=2.5)
        return np.asarray(out, dtype=np.float32)

    def surface(self) -> BoolArray:
        if self._surface is None:
            inner = ndimage.binary_erosion(self.intracranial)
            self._surface = np.asarray(self.intracranial & ~inner, dtype=np.bool_)
        return self._surface

    def _mask(self, site: str) -> BoolArray:
        a = self._anatomy
        x, y, z = a.mni[0], a.mni[1], a.mni[2]
        supratentorial = (z > -18) & (y > -82)
        if site == "deep":
            wm = self._smooth(a.wm, 4.0)
            mask = (wm > 0.8) & supratentorial & (np.abs(x) > 12) & (a.ventricles < 0.1)
        elif site == "callosal":
            mask = (a.wm > 0.7) & (np.abs(x) < 6) & (y > -30) & (y < 25) & (z > 8) & (z < 30)
        elif site in ("junction", "cerebellum"):
            gm = self._smooth(a.gm, 2.0)
            junction = (a.wm > 0.35) & (a.wm < 0.65) & (gm > 0.25)
            if site == "junction":
                mask = junction & supratentorial & (z > -10)
            else:
                mask = junction & (z < -25) & (y < -45) & (np.abs(x) > 8)
        elif site == "convexity":
            mask = self.surface() & (z > 5) & (y > -95)
        elif site == "falx":
            mask = self.intracranial & (np.abs(x) < 2.5) & (z > 15) & (y > -70) & (y < 40)
        elif site == "skull_base":
            mask = self.surface() & (z > -35) & (z < -5) & (y > -25)
        else:
            mask = a.wm > 0.5
        return np.asarray(mask, dtype=np.bool_)

    def candidates(self, site: str) -> IntArray:
        if site not in self._candidates:
            self._candidates[site] = np.argwhere(self._mask(site))
        return self._candidates[site]

    def pick(self, site: str, draw: float) -> IntArray:
        """A deterministic candidate voxel of ``site`` (falls back to deep white matter)."""
        for name in (site, "deep", "any"):
            voxels = self.candidates(name)
            if len(voxels):
                return np.asarray(voxels[min(int(draw * len(voxels)), len(voxels) - 1)])
        raise ValueError(f"No candidate voxel for site {site!r}")

    def inward_at(self, voxel: tuple[int, int, int]) -> npt.NDArray[np.float64]:
        """Unit inward normal of the intracranial surface near ``voxel``."""
        r = max(2, round(6.0 / self._resolution_mm))
        box = tuple(slice(max(v - r, 0), v + r + 1) for v in voxel)
        local = ndimage.gaussian_filter(
            self.intracranial[box].astype(np.float32), 3.0 / self._resolution_mm
        )
        centre = tuple(v - b.start for v, b in zip(voxel, box, strict=True))
        gradient = np.array([g[centre] for g in np.gradient(local)], dtype=np.float64)
        norm = float(np.linalg.norm(gradient))
        if norm < 1e-9:
            return np.array([0.0, 0.0, -1.0])
        return gradient / norm
