"""Training crops for the embedder: several slices per case, with room to jitter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from models.context import brain_mask, centroid_level, context_planes
from models.errors import TrainingDataError
from models.plane_sampling import crop_at
from models.segmenter import Segmenter
from models.slices import (
    CROP_FIELD_MM,
    CROP_SIZE_PX,
    NEIGHBOUR_MM,
    tumour_centre_in_slice,
)
from models.study_arrays import StudyLike, normalised_channels, voxel_spacing

__all__ = [
    "CONTEXT_MARGIN_PX",
    "TRAIN_MARGIN_PX",
    "CropSet",
    "build_crop_set",
    "case_training_crops",
]

#: Training crops are this many pixels larger on each side, for random shifts.
TRAIN_MARGIN_PX = 8
#: Training context planes are this many pixels larger on each side (12 mm of jitter).
CONTEXT_MARGIN_PX = 4


class _RowBuffer:
    """float16 rows appended into large preallocated blocks.

    One allocation per block instead of several per case: small long-lived arrays made
    between the large, short-lived study arrays fragment glibc's heap (the dynamic mmap
    threshold puts 4-18 MB study arrays on it), which held ~9 MB per training case that
    was never given back (17 GB for 1,500 cases at 2 mm).
    """

    def __init__(self, block_bytes: int = 64 << 20) -> None:
        self._block_bytes = block_bytes
        self._blocks: list[np.ndarray] = []
        self._used = 0  # rows used in the last block

    def append(self, rows: np.ndarray) -> None:
        for row in rows:
            if not self._blocks or self._used == len(self._blocks[-1]):
                per_block = max(1, self._block_bytes // (row.size * 2))
                self._blocks.append(np.empty((per_block, *row.shape), dtype=np.float16))
                self._used = 0
            self._blocks[-1][self._used] = row
            self._used += 1

    def array(self) -> np.ndarray:
        if not self._blocks:
            raise TrainingDataError("no training case")
        return np.concatenate([*self._blocks[:-1], self._blocks[-1][: self._used]])


@dataclass
class CropSet:
    """Crops with labels for training or validation.

    Attributes:
        crops: float16 ``[N, 4, S + 2m, S + 2m]`` (``m = TRAIN_MARGIN_PX``).
        labels: int64 ``[N]`` class index into ``classes``.
        case_index: int64 ``[N]`` which case each crop comes from.
        classes: diagnosis names.
        context: float16 ``[cases, K, s + 2c, s + 2c]`` context planes of each case
            (``c = CONTEXT_MARGIN_PX``).
        query_context: the same from the segmenter's mask of each case (``context``
            itself when the set was built without a segmenter).
    """

    crops: np.ndarray
    labels: np.ndarray
    case_index: np.ndarray
    classes: tuple[str, ...]
    context: np.ndarray
    query_context: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def case_training_crops(
    study: StudyLike,
    mask: np.ndarray,
    *,
    n_offsets: int = 2,
    neighbour_mm: float = NEIGHBOUR_MM,
    query_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crops of the largest-area slice and ``n_offsets`` neighbours each side.

    The crops have the inference pixel size, ``TRAIN_MARGIN_PX`` wider on each side,
    so that a centred crop of ``CROP_SIZE_PX`` equals the inference crop; the case's
    context planes are ``CONTEXT_MARGIN_PX`` wider in the same way.

    ``query_mask`` (e.g. the segmenter's mask of the same study) gives a second set of
    context planes, as a query segmented by simcase would see them.

    Returns:
        The crops ``[n, 4, S + 2m, S + 2m]``, the context planes ``[K, s + 2c, s + 2c]``
        and the query mask's context planes (the same planes when it is None or empty).
    """
    tumour = np.asarray(mask) > 0
    if not tumour.any():
        raise TrainingDataError("a training case has an empty mask")
    spacing = voxel_spacing(study.affine)
    channels = normalised_channels(study)
    areas = tumour.sum(axis=(0, 1))
    centre_index = int(np.argmax(areas))
    centre = tumour_centre_in_slice(tumour[:, :, centre_index])
    step = max(1, round(neighbour_mm / spacing[2]))
    size = CROP_SIZE_PX + 2 * TRAIN_MARGIN_PX
    pixel_mm = CROP_FIELD_MM / CROP_SIZE_PX
    out = []
    for offset in range(-n_offsets, n_offsets + 1):
        k = centre_index + offset * step
        if 0 <= k < tumour.shape[2] and areas[k] > 0:
            out.append(
                crop_at(
                    channels[:, :, :, k],
                    centre,
                    (float(spacing[0]), float(spacing[1])),
                    size_px=size,
                    pixel_mm=pixel_mm,
                )
            )
    brain = brain_mask(channels)
    context = context_planes(
        tumour, brain, spacing, centroid_level(areas), margin_px=CONTEXT_MARGIN_PX
    )
    query_context = context
    query = None if query_mask is None else np.asarray(query_mask) > 0
    if query is not None and query.any():
        query_context = context_planes(
            query,
            brain,
            spacing,
            centroid_level(query.sum(axis=(0, 1))),
            margin_px=CONTEXT_MARGIN_PX,
        )
    return np.stack(out), context, query_context


def build_crop_set(
    cases: Iterable[tuple[StudyLike, np.ndarray, str]],
    classes: tuple[str, ...],
    *,
    n_offsets: int = 2,
    segmenter: Segmenter | None = None,
) -> CropSet:
    """Training crops of ``(study, mask, diagnosis)`` cases.

    With a ``segmenter``, each case also gets the context planes of its segmentation.
    """
    crops, contexts, query_contexts = _RowBuffer(), _RowBuffer(), _RowBuffer()
    labels: list[int] = []
    owners: list[int] = []
    for index, (study, mask, diagnosis) in enumerate(cases):
        if diagnosis not in classes:
            raise TrainingDataError(f"diagnosis {diagnosis!r} is not one of {classes}")
        query_mask = None if segmenter is None else segmenter.segment(study)
        case_crops, context, query_context = case_training_crops(
            study, mask, n_offsets=n_offsets, query_mask=query_mask
        )
        crops.append(case_crops)
        contexts.append(context[None])
        if segmenter is not None:
            query_contexts.append(query_context[None])
        labels += [classes.index(diagnosis)] * len(case_crops)
        owners += [index] * len(case_crops)
    context = contexts.array()
    return CropSet(
        crops=crops.array(),
        labels=np.asarray(labels, dtype=np.int64),
        case_index=np.asarray(owners, dtype=np.int64),
        classes=classes,
        context=context,
        # Without a segmenter the query side is the given mask's: the same array, no copy.
        query_context=context if segmenter is None else query_contexts.array(),
    )
