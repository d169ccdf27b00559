"""How :mod:`models` reads a study: channel order, spacing and intensity normalisation.

The models consume :class:`dicom_conversion.StudyVolumes` (arrays in the canonical
RAS ``(X, Y, Z)`` order, axial slice ``[:, :, k]``). Only the attributes named in
:class:`StudyLike` are used, so any object with them works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from dicom_conversion import MRSequence
from models.errors import InvalidStudyError

__all__ = [
    "CHANNELS",
    "StudyLike",
    "normalised_channels",
    "present_channels",
    "voxel_spacing",
]

#: Channel order of every network input: ``MRSequence.ordered()`` values.
CHANNELS: tuple[str, ...] = tuple(s.value for s in MRSequence.ordered())

#: Normalised intensities are clipped to this many standard deviations.
_CLIP = 5.0


class StudyLike(Protocol):
    """The part of ``dicom_conversion.StudyVolumes`` the models read."""

    @property
    def arrays(self) -> Mapping[Any, np.ndarray]: ...

    @property
    def affine(self) -> np.ndarray: ...


def _lookup(arrays: Mapping[Any, np.ndarray], channel: str) -> np.ndarray | None:
    for key, value in arrays.items():
        name = getattr(key, "value", key)
        if name == channel:
            return value
    return None


def present_channels(study: StudyLike) -> tuple[str, ...]:
    """The sequences of :data:`CHANNELS` that the study holds, in channel order."""
    return tuple(c for c in CHANNELS if _lookup(study.arrays, c) is not None)


def voxel_spacing(affine: np.ndarray) -> np.ndarray:
    """Voxel sizes in millimetres (column norms of the affine's 3x3 part)."""
    return np.asarray(np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0))


def study_shape(study: StudyLike) -> tuple[int, int, int]:
    """The common ``(X, Y, Z)`` shape of the study's arrays."""
    shapes = {tuple(np.shape(a)) for a in study.arrays.values()}
    if not shapes:
        raise InvalidStudyError("the study holds no image array")
    if len(shapes) != 1:
        raise InvalidStudyError(f"the study's arrays differ in shape: {sorted(shapes)}")
    shape = shapes.pop()
    if len(shape) != 3:
        raise InvalidStudyError(f"expected 3-D arrays (X, Y, Z), got shape {shape}")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def normalise_volume(volume: np.ndarray) -> np.ndarray:
    """Z-score one sequence over its non-zero (brain) voxels, clipped; background stays 0."""
    data = np.asarray(volume, dtype=np.float32)
    brain = data > 0
    if int(brain.sum()) < 10:
        return np.zeros_like(data)
    values = data[brain]
    mean = float(values.mean())
    std = float(values.std())
    if std <= 1e-6:
        std = 1.0
    out = np.zeros_like(data)
    out[brain] = np.clip((values - mean) / std, -_CLIP, _CLIP)
    return out


def normalised_channels(study: StudyLike) -> np.ndarray:
    """The four channels ``[4, X, Y, Z]`` float32, normalised; a missing sequence is zeros."""
    shape = study_shape(study)
    out = np.zeros((len(CHANNELS), *shape), dtype=np.float32)
    found = 0
    for index, channel in enumerate(CHANNELS):
        array = _lookup(study.arrays, channel)
        if array is not None:
            out[index] = normalise_volume(array)
            found += 1
    if found == 0:
        raise InvalidStudyError(f"the study holds none of the sequences {', '.join(CHANNELS)}")
    return out
