"""Binary erosion and dilation of 3-D masks by array shifts, six neighbours.

The same voxels as ``scipy.ndimage.binary_erosion`` / ``binary_dilation`` with their
default structure (the 3-D cross), a few times faster on the small boxes the signs and
the lesion count work in (scipy's C loop visits every voxel's structure one by one).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dilated", "eroded"]


def _halves(axis: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Index tuples of all but the last and all but the first plane along ``axis``."""
    head = tuple(slice(0, -1) if a == axis else slice(None) for a in range(3))
    tail = tuple(slice(1, None) if a == axis else slice(None) for a in range(3))
    return head, tail


def eroded(mask: np.ndarray, *, border: bool) -> np.ndarray:
    """``ndimage.binary_erosion(mask, border_value=border)`` of a 3-D boolean mask."""
    inner = np.array(mask, dtype=bool, copy=True)
    for axis in range(3):
        head, tail = _halves(axis)
        inner[head] &= mask[tail]
        inner[tail] &= mask[head]
        if not border:
            inner[tuple(0 if a == axis else slice(None) for a in range(3))] = False
            inner[tuple(-1 if a == axis else slice(None) for a in range(3))] = False
    return inner


def dilated(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``ndimage.binary_dilation(mask, iterations=iterations)`` of a 3-D boolean mask
    (nothing outside the array)."""
    grown = np.array(mask, dtype=bool, copy=True)
    for _ in range(iterations):
        before = grown.copy()
        for axis in range(3):
            head, tail = _halves(axis)
            grown[head] |= before[tail]
            grown[tail] |= before[head]
    return grown
