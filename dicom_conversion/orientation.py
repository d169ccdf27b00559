"""RAS (NIfTI) versus LPS (DICOM) and the canonical array convention.

simcase's canonical convention (see ``StudyVolumes``): arrays indexed (X, Y, Z)
with a 4x4 affine to RAS+ millimetres, reoriented to nibabel's closest canonical
orientation (axis codes R, A, S). DICOM (highdicom ``Volume``) uses LPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from nibabel import orientations as _orientations

orientations: Any = _orientations

__all__ = [
    "LPS_TO_RAS",
    "affine_lps_to_ras",
    "affine_ras_to_lps",
    "apply_transform",
    "canonical_transforms",
    "oriented_shape",
    "reorient",
    "to_canonical",
]

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def affine_lps_to_ras(affine_lps: np.ndarray) -> np.ndarray:
    """The RAS affine of a grid given by its LPS affine (and the reverse)."""
    return np.asarray(LPS_TO_RAS @ np.asarray(affine_lps, dtype=np.float64), dtype=np.float64)


def affine_ras_to_lps(affine_ras: np.ndarray) -> np.ndarray:
    """The LPS affine of a grid given by its RAS affine."""
    return affine_lps_to_ras(affine_ras)


def reorient(
    array: np.ndarray, affine_ras: np.ndarray, axcodes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Flip and permute ``array`` so that its axes point closest to ``axcodes``.

    Parameters
    ----------
    array:
        A 3D array indexed like the affine.
    affine_ras:
        4x4 voxel-to-RAS affine of ``array``.
    axcodes:
        Target axis codes in RAS terms, e.g. ``("R", "A", "S")`` or ``("L", "P", "S")``.

    Returns
    -------
    tuple
        The reoriented array (a view where possible) and its RAS affine.
    """
    affine_ras = np.asarray(affine_ras, dtype=np.float64)
    current = orientations.io_orientation(affine_ras)
    target = orientations.axcodes2ornt(tuple(axcodes))
    if np.array_equal(current, target):
        return array, affine_ras
    transform = orientations.ornt_transform(current, target)
    out = orientations.apply_orientation(array, transform)
    new_affine = affine_ras @ orientations.inv_ornt_aff(transform, array.shape[:3])
    return out, np.asarray(new_affine, dtype=np.float64)


def canonical_transforms(
    affine_ras: np.ndarray, shape: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """nibabel orientation transforms to the canonical (R, A, S) order and back."""
    current = orientations.io_orientation(np.asarray(affine_ras, dtype=np.float64))
    target = orientations.axcodes2ornt(("R", "A", "S"))
    return (
        np.asarray(orientations.ornt_transform(current, target)),
        np.asarray(orientations.ornt_transform(target, current)),
    )


def apply_transform(array: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Flip and transpose ``array`` by a nibabel orientation transform (a view)."""
    return np.asarray(orientations.apply_orientation(array, transform))


def oriented_shape(shape: Sequence[int], transform: np.ndarray) -> tuple[int, ...]:
    """The shape of an array of ``shape`` after ``apply_transform``."""
    out = [0] * len(shape)
    for axis, (target, _) in enumerate(transform):
        out[int(target)] = int(shape[axis])
    return tuple(out)


def to_canonical(array: np.ndarray, affine_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorient to nibabel's closest canonical (R, A, S) orientation."""
    return reorient(array, affine_ras, ("R", "A", "S"))
