"""B's lesion shapes: metaballs (sums of anisotropic Gaussian blobs) with a few random
Fourier ripples, thresholded. Defined in units of a lesion radius so that one shape can
be drawn at any size and resolution (a follow-up redraws the same shape grown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["LEVEL", "SHAPE_EXTENT", "BlobShape", "sample_shape", "turn_towards"]

FloatArray = npt.NDArray[np.float32]
LEVEL = 0.5
SHAPE_EXTENT = 3.0  # the field is negligible beyond this many radii


def _rotation(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return np.asarray(q, dtype=np.float64)


@dataclass(frozen=True)
class BlobShape:
    """An implicit shape ``f(u) > LEVEL`` in radius units ``u``."""

    centres: npt.NDArray[np.float64]  # (k, 3)
    precisions: npt.NDArray[np.float64]  # (k, 3, 3)
    weights: npt.NDArray[np.float64]  # (k,)
    wave_vectors: npt.NDArray[np.float64]  # (m, 3)
    wave_phases: npt.NDArray[np.float64]  # (m,)
    wave_amplitude: float
    long_axis: npt.NDArray[np.float64]  # (3,) unit direction the shape is stretched along

    def field(self, u: FloatArray) -> FloatArray:
        """``u`` is (..., 3); returns the implicit field, > 0.5 inside."""
        flat = u.reshape(-1, 3).astype(np.float64)
        total = np.zeros(flat.shape[0])
        for c, p, w in zip(self.centres, self.precisions, self.weights, strict=True):
            d = flat - c
            total += w * np.exp(-0.5 * np.einsum("ni,ij,nj->n", d, p, d))
        if self.wave_amplitude > 0 and len(self.wave_phases):
            ripple = np.sin(flat @ self.wave_vectors.T + self.wave_phases).mean(axis=1)
            total += self.wave_amplitude * ripple * np.sqrt(len(self.wave_phases))
        return np.asarray(total.reshape(u.shape[:-1]), dtype=np.float32)

    def unit_volume(self) -> float:
        """Volume of the shape in radius units cubed (numerically)."""
        axis = np.linspace(-SHAPE_EXTENT, SHAPE_EXTENT, 33)
        step = axis[1] - axis[0]
        u = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).astype(np.float32)
        return float((self.field(u) > LEVEL).sum() * step**3)


def turn_towards(
    source: npt.NDArray[np.float64], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The rotation matrix that turns unit vector ``source`` onto unit vector ``target``."""
    v = np.cross(source, target)
    c = float(np.dot(source, target))
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else -np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.asarray(np.eye(3) + k + k @ k / (1.0 + c), dtype=np.float64)


def sample_shape(
    rng: np.random.Generator,
    *,
    blobs: tuple[int, int],
    spread: float,
    elongation: float,
    ripple: float,
    ripple_frequency: float,
) -> BlobShape:
    """A random metaball: ``blobs`` (min, max) count, ``spread`` of the satellite blobs,
    ``elongation`` of the whole shape along one random axis, ``ripple`` amplitude."""
    k = int(rng.integers(blobs[0], blobs[1] + 1))
    main_axis = _rotation(rng)
    stretch = np.diag([elongation, 1.0, 1.0 / np.sqrt(elongation)])
    frame = main_axis @ stretch
    centres = np.zeros((k, 3))
    precisions = np.zeros((k, 3, 3))
    weights = np.ones(k)
    for i in range(k):
        if i > 0:
            centres[i] = frame @ rng.normal(0.0, spread, 3)
            weights[i] = rng.uniform(0.5, 1.0)
        radii = rng.uniform(0.55, 0.85, 3) * (1.0 if i == 0 else rng.uniform(0.55, 0.9))
        local = _rotation(rng) if i > 0 else np.eye(3)
        axes = frame @ local @ np.diag(radii)
        inv = np.linalg.inv(axes)
        precisions[i] = inv.T @ inv
    m = 6
    directions = rng.standard_normal((m, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    vectors = directions * rng.uniform(0.6, 1.4, (m, 1)) * ripple_frequency
    return BlobShape(
        centres=centres,
        precisions=precisions,
        weights=weights,
        wave_vectors=vectors,
        wave_phases=rng.uniform(0, 2 * np.pi, m),
        wave_amplitude=float(ripple),
        long_axis=np.asarray(main_axis[:, 0], dtype=np.float64),
    )
