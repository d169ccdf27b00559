"""Smooth random fields built separably (cheap on a whole volume).

A field is a small random coefficient lattice spread over the grid by Gaussian
radial-basis weights along each axis: ``f = sum_ijk C_ijk wx_i(x) wy_j(y) wz_k(z)``.
Used for B's anatomy displacement and its bias fields.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["basis_weights", "smooth_field", "smooth_noise"]

FloatArray = npt.NDArray[np.float32]


def basis_weights(coords: FloatArray, spacing: float) -> FloatArray:
    """(n, m) Gaussian weights of ``m`` centres spaced ``spacing`` apart over ``coords``."""
    lo, hi = float(coords.min()), float(coords.max())
    count = max(2, int(np.ceil((hi - lo) / spacing)) + 2)
    centres = np.linspace(lo - spacing / 2, hi + spacing / 2, count)
    w = np.exp(-0.5 * ((coords[:, None] - centres[None, :]) / spacing) ** 2)
    return np.asarray(w, dtype=np.float32)


def smooth_field(
    coefficients: FloatArray, wx: FloatArray, wy: FloatArray, wz: FloatArray
) -> FloatArray:
    """Evaluate a coefficient lattice (mx, my, mz) on the (nx, ny, nz) grid."""
    a = np.tensordot(wx, coefficients, axes=(1, 0))  # nx, my, mz
    b = np.tensordot(a, wy, axes=(1, 1))  # nx, mz, ny
    c = np.tensordot(b, wz, axes=(1, 1))  # nx, ny, nz
    return np.asarray(c, dtype=np.float32)


def smooth_noise(
    rng: np.random.Generator,
    axes_mm: tuple[FloatArray, FloatArray, FloatArray],
    spacing_mm: float,
) -> FloatArray:
    """Zero-mean smooth noise with unit maximum magnitude and feature size ``spacing_mm``."""
    weights = [basis_weights(a, spacing_mm) for a in axes_mm]
    coeff = rng.standard_normal(tuple(w.shape[1] for w in weights)).astype(np.float32)
    field = smooth_field(coeff, *weights)
    field -= field.mean()
    peak = float(np.abs(field).max())
    return np.asarray(field / peak if peak > 0 else field, dtype=np.float32)
