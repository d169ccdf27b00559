"""Mass effect: the brain around each lesion is pushed away, conserving volume.

The anatomy is evaluated at warped points: a point at distance ``r`` from a mass of
radius ``R`` shows the tissue that lay at ``cbrt(r**3 - R**3)`` (a sphere inflated in an
incompressible medium), tapered to nothing a few radii away. Ventricles compress, the
midline shifts and, under a meningioma, the cortex is buckled inward.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from models.synth_c.lesions import LesionSpec

__all__ = ["mass_radius_mm", "warp"]

F32 = NDArray[np.float32]


def mass_radius_mm(spec: LesionSpec) -> float:
    """Radius of the sphere whose volume the lesion displaces."""
    if spec.kind == "meningioma":
        displaced = spec.core_ml * 1.15
    elif spec.kind == "glioma":
        displaced = 0.7 * spec.core_ml + 0.2 * spec.oedema_ml
    else:
        displaced = spec.core_ml + 0.15 * spec.oedema_ml
    return float(min((3 * displaced * 1000 / (4 * np.pi)) ** (1 / 3), 32.0))


def warp(q: F32, lesions: list[LesionSpec]) -> F32:
    """Where the tissue shown at head-frame points ``q`` (3, N) came from."""
    out = q.astype(np.float32, copy=True)
    for spec in lesions:
        radius = mass_radius_mm(spec)
        if radius < 1.0:
            continue
        offset = out - spec.centre[:, None]
        r = np.sqrt(np.sum(offset**2, axis=0))
        reach = 1.5 * radius + 10.0
        near = r < radius + 5 * reach
        if spec.kind == "meningioma":
            near &= np.einsum("i,in->n", spec.normal, offset) < 0  # only the brain side
        rn = r[near]
        source = np.cbrt(np.maximum(rn**3 - radius**3, 0.0))
        taper = np.exp(-np.maximum(rn - radius, 0.0) / reach)
        shrink = 1.0 - (rn - source) * taper / np.maximum(rn, 1e-3)
        out[:, near] = spec.centre[:, None] + offset[:, near] * shrink
    return out
