"""Where lesions go: candidate voxels of each site in the patient's brain (pre mass effect)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b.anatomy import Anatomy

__all__ = ["Sites", "find_sites"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


@dataclass
class Sites:
    """Candidate voxels per site, the intracranial mask and its inward normals."""

    candidates: dict[str, IntArray]
    intracranial: npt.NDArray[np.bool_]
    inward: FloatArray  # (3, X, Y, Z) unit inward normal (gradient of the smoothed brain)

    def pick(self, site: str, draw: float) -> IntArray:
        """A deterministic candidate voxel of ``site`` (falls back to deep white matter)."""
        for name in (site, "deep", "any"):
            voxels = self.candidates.get(name)
            if voxels is not None and len(voxels):
                return np.asarray(voxels[min(int(draw * len(voxels)), len(voxels) - 1)])
        raise ValueError(f"No candidate voxel for site {site!r}")


def find_sites(anatomy: Anatomy, resolution_mm: float) -> Sites:
    """Candidate voxels of every site, from tissue fractions and MNI coordinates."""
    brain = anatomy.brain
    intracranial = ndimage.binary_fill_holes(brain > 0.5)
    x, y, z = anatomy.mni[0], anatomy.mni[1], anatomy.mni[2]
    wm_smooth = ndimage.gaussian_filter(anatomy.wm, 4.0 / resolution_mm)
    gm_smooth = ndimage.gaussian_filter(anatomy.gm, 2.0 / resolution_mm)
    smooth_brain = ndimage.gaussian_filter(intracranial.astype(np.float32), 3.0 / resolution_mm)
    gradient = np.stack(np.gradient(smooth_brain)).astype(np.float32)
    norm = np.sqrt((gradient**2).sum(axis=0)) + 1e-6
    inward = np.asarray(gradient / norm, dtype=np.float32)
    supratentorial = (z > -18) & (y > -82)
    infratentorial = (z < -25) & (y < -45) & (np.abs(x) > 8)
    surface = intracranial & ~ndimage.binary_erosion(intracranial)
    junction = (anatomy.wm > 0.35) & (anatomy.wm < 0.65) & (gm_smooth > 0.25)
    candidates = {
        "deep": (wm_smooth > 0.8) & supratentorial & (np.abs(x) > 12) & (anatomy.ventricles < 0.1),
        "callosal": (anatomy.wm > 0.7)
        & (np.abs(x) < 6)
        & (y > -30)
        & (y < 25)
        & (z > 8)
        & (z < 30),
        "junction": junction & supratentorial & (z > -10),
        "cerebellum": junction & infratentorial,
        "convexity": surface & (z > 5) & (y > -95),
        "falx": intracranial & (np.abs(x) < 2.5) & (z > 15) & (y > -70) & (y < 40),
        "skull_base": surface & (z > -35) & (z < -5) & (y > -25),
        "any": (anatomy.wm > 0.5),
    }
    return Sites(
        candidates={name: np.argwhere(mask) for name, mask in candidates.items()},
        intracranial=np.asarray(intracranial, dtype=np.bool_),
        inward=inward,
    )
