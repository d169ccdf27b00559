"""How :mod:`models` reads a study: channel order, spacing and intensity normalisation.

The models consume :class:`dicom_conversion.StudyVolumes` (arrays in the canonical
RAS ``(X, Y, Z)`` order, axial slice ``[:, :, k]``). Only the attributes named in
:class:`StudyLike` are used, so any object with them works.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
from scipy import ndimage

from dicom_conversion import MRSequence
from models.errors import InvalidStudyError

__all__ = [
    "CHANNELS",
    "StudyLike",
    "bounding_box",
    "foreground",
    "normalised_channels",
    "present_channels",
    "voxel_spacing",
]

#: Channel order of every network input: ``MRSequence.ordered()`` values.
CHANNELS: tuple[str, ...] = tuple(s.value for s in MRSequence.ordered())

#: Normalised intensities are clipped to this many standard deviations.
_CLIP = 5.0
#: Threads normalising a study's sequences side by side, and the size from which they do.
_NORMALISE_THREADS = 2
_THREADED_VOXELS = 1_000_000


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


def bounding_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The smallest box holding every true voxel of a 3-D mask, or None when it is empty.

    Two reductions of the whole mask (over one axis, then over two) instead of listing
    every true voxel's coordinates.
    """
    if mask.ndim != 3:
        raise InvalidStudyError(f"expected a 3-D mask, got shape {mask.shape}")
    xy: np.ndarray = np.any(mask, axis=2)
    xs = np.flatnonzero(xy.any(axis=1))
    if xs.size == 0:
        return None
    ys = np.flatnonzero(xy.any(axis=0))
    zs = np.flatnonzero(mask[xs[0] : xs[-1] + 1].any(axis=(0, 1)))
    return (
        slice(int(xs[0]), int(xs[-1]) + 1),
        slice(int(ys[0]), int(ys[-1]) + 1),
        slice(int(zs[0]), int(zs[-1]) + 1),
    )


#: A noise floor around the head: more than this share of the positive voxels lies below
#: Otsu's threshold, at a mean below ``_FLOOR_RATIO`` of the mean above it (in a
#: skull-stripped brain the darker class, CSF, is far smaller than that).
_FLOOR_SHARE = 0.5
_FLOOR_RATIO = 0.3


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of a sample of intensities (256 bins between the 0.5/99.5 %)."""
    low, high = np.percentile(values, [0.5, 99.5])
    if high <= low:
        return float(low)
    counts, edges = np.histogram(np.clip(values, low, high), bins=256, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight = np.cumsum(counts).astype(np.float64)
    total = weight[-1]
    mass = np.cumsum(counts * centres)
    mean_low = mass / np.maximum(weight, 1.0)
    mean_high = (mass[-1] - mass) / np.maximum(total - weight, 1.0)
    between = weight * (total - weight) * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def foreground(data: np.ndarray) -> np.ndarray:
    """The voxels that hold the head or brain of one sequence.

    Skull-stripped images (BraTS, our generators) have an exact zero background: the
    foreground is every positive voxel, as always. An image whose background carries a
    noise floor instead (most positive voxels dark) is thresholded at Otsu's level
    between noise and tissue, with the holes inside (dark CSF) filled.
    """
    flat = data.reshape(-1)
    sample = flat[:: max(1, flat.size // 100_000)]
    sample = np.asarray(sample[sample > 0], dtype=np.float64)
    positive = data > 0
    if sample.size < 10:
        return positive
    threshold = _otsu(sample)
    below = sample <= threshold
    share = float(below.mean())
    if share < _FLOOR_SHARE or share == 1.0:
        return positive
    if float(sample[below].mean()) >= _FLOOR_RATIO * float(sample[~below].mean()):
        return positive
    mask = data > threshold
    if mask.ndim == 3:
        mask = ndimage.binary_fill_holes(mask)
    return np.asarray(mask & positive)


def _normalise_into(data: np.ndarray, out: np.ndarray) -> None:
    """Write the normalised ``data`` (float32) into ``out``, which holds zeros.

    The work is done in ``out``'s part over the brain's bounding box only, without a
    copy of the box; the statistics are taken over the brain's voxels in the same (C)
    order as ``data[data > 0]``, so the result is the same, bit for bit, as normalising
    the whole volume.
    """
    brain = foreground(data)
    box: tuple[slice, ...] | None = bounding_box(brain) if brain.ndim == 3 else None
    if box is None:  # empty, or not 3-D (then the whole array)
        if brain.ndim == 3:
            return
        box = tuple(slice(None) for _ in range(brain.ndim))
    inside = brain[box]
    if np.count_nonzero(inside) < 10:
        return
    source = data[box]
    values = source[inside]
    mean = float(values.mean())
    std = float(values.std())
    if std <= 1e-6:
        std = 1.0
    region = out[box]
    np.subtract(source, np.float32(mean), out=region)
    np.divide(region, np.float32(std), out=region)
    np.clip(region, -_CLIP, _CLIP, out=region)
    np.copyto(region, np.float32(0.0), where=~inside)


def normalise_volume(volume: np.ndarray) -> np.ndarray:
    """Z-score one sequence over its non-zero (brain) voxels, clipped; background stays 0.

    The result is C-ordered float32.
    """
    data = np.asarray(volume, dtype=np.float32)
    out = np.zeros(data.shape, dtype=np.float32)
    _normalise_into(data, out)
    return out


def normalised_channels(study: StudyLike) -> np.ndarray:
    """The four channels ``[4, X, Y, Z]`` float32, normalised; a missing sequence is zeros."""
    shape = study_shape(study)
    out = np.zeros((len(CHANNELS), *shape), dtype=np.float32)
    present = [
        (index, array)
        for index, channel in enumerate(CHANNELS)
        if (array := _lookup(study.arrays, channel)) is not None
    ]
    if not present:
        raise InvalidStudyError(f"the study holds none of the sequences {', '.join(CHANNELS)}")

    def one(item: tuple[int, Any]) -> None:
        _normalise_into(np.asarray(item[1], dtype=np.float32), out[item[0]])

    # numpy releases the GIL in its loops: the sequences are normalised side by side
    # (each into its own channel, so the result does not depend on the order).
    workers = min(len(present), os.cpu_count() or 1, _NORMALISE_THREADS)
    if workers <= 1 or out[0].size < _THREADED_VOXELS:
        for item in present:
            one(item)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, present))
    return out
