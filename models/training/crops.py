"""Training crops for the embedder: several slices per case, with room to jitter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from models.context import brain_mask, centroid_level, context_planes
from models.errors import TrainingDataError
from models.facts import tumour_facts
from models.plane_sampling import crop_at
from models.segmenter import Segmenter
from models.slices import (
    CROP_FIELD_MM,
    CROP_SIZE_PX,
    NEIGHBOUR_MM,
    tumour_centre_in_slice,
)
from models.study_arrays import StudyLike, bounding_box, normalised_channels, voxel_spacing
from models.training.tissue_labels import label_shares, tissue_labels

__all__ = [
    "ATTRIBUTES",
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
#: What each case's attribute targets hold (auxiliary supervision of the embedder): how
#: the tumour looks and where it is, measured on its mask, so that near neighbours share
#: more than the diagnosis. ``x_offset`` changes sign with a left-right flip.
ATTRIBUTES: tuple[str, ...] = (
    "log_volume",
    "log_core",
    "enhancing_share",
    "necrotic_share",
    "log_oedema_ratio",
    "log_lesions",
    "x_offset",
    "y_offset",
    "z_offset",
)


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
        tissue: uint8 ``[N, S + 2m, S + 2m]`` label maps of the crops
            (:mod:`models.training.tissue_labels`), for rendering random contrasts.
        shares: float32 ``[cases, N_LABELS]`` label fractions of each case's brain.
        targets: float32 ``[cases, len(ATTRIBUTES)]`` attribute targets of each case.
        instance: int64 ``[cases]`` patient index of each case (a follow-up shares it).
    """

    crops: np.ndarray
    labels: np.ndarray
    case_index: np.ndarray
    classes: tuple[str, ...]
    context: np.ndarray
    query_context: np.ndarray
    tissue: np.ndarray
    shares: np.ndarray
    targets: np.ndarray
    instance: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class CaseCrops:
    """What training keeps of one case (see :class:`CropSet` for the shapes)."""

    crops: np.ndarray
    tissue: np.ndarray
    context: np.ndarray
    query_context: np.ndarray
    shares: np.ndarray
    targets: np.ndarray


def attribute_targets(study: StudyLike, mask: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """The :data:`ATTRIBUTES` of a case, measured on its mask (float32)."""
    facts = tumour_facts(study, mask)
    core = max(facts.core_ml, 1e-3)
    box = bounding_box(brain)
    affine = np.asarray(study.affine, dtype=np.float64)
    if box is None:
        raise TrainingDataError("a training case holds no brain")
    centre_index = np.array([(b.start + b.stop - 1) / 2.0 for b in box])
    centre = affine[:3, :3] @ centre_index + affine[:3, 3]
    offset = (np.asarray(facts.centroid_ras_mm) - centre) / 50.0
    return np.asarray(
        [
            np.log1p(facts.volume_ml),
            np.log1p(facts.core_ml),
            facts.enhancing_ml / core,
            facts.necrotic_ml / core,
            np.log1p(facts.oedema_ml / core),
            np.log(max(1, facts.lesion_count)),
            *offset,
        ],
        dtype=np.float32,
    )


def case_training_crops(
    study: StudyLike,
    mask: np.ndarray,
    *,
    n_offsets: int = 2,
    neighbour_mm: float = NEIGHBOUR_MM,
    query_mask: np.ndarray | None = None,
) -> CaseCrops:
    """Crops of the largest-area slice and ``n_offsets`` neighbours each side.

    The crops have the inference pixel size, ``TRAIN_MARGIN_PX`` wider on each side,
    so that a centred crop of ``CROP_SIZE_PX`` equals the inference crop; the case's
    context planes are ``CONTEXT_MARGIN_PX`` wider in the same way. The label map of
    each crop (nearest neighbour on the same grid) goes with it.

    ``query_mask`` (e.g. the segmenter's mask of the same study) gives a second set of
    context planes, as a query segmented by simcase would see them (the same planes when
    it is None or empty).
    """
    tumour = np.asarray(mask) > 0
    if not tumour.any():
        raise TrainingDataError("a training case has an empty mask")
    spacing = voxel_spacing(study.affine)
    channels = normalised_channels(study)
    brain = brain_mask(channels)
    labels = tissue_labels(channels, np.asarray(mask), brain)
    areas = tumour.sum(axis=(0, 1))
    centre_index = int(np.argmax(areas))
    centre = tumour_centre_in_slice(tumour[:, :, centre_index])
    step = max(1, round(neighbour_mm / spacing[2]))
    size = CROP_SIZE_PX + 2 * TRAIN_MARGIN_PX
    pixel_mm = CROP_FIELD_MM / CROP_SIZE_PX
    out, tissue = [], []
    for offset in range(-n_offsets, n_offsets + 1):
        k = centre_index + offset * step
        if 0 <= k < tumour.shape[2] and areas[k] > 0:
            where = (float(spacing[0]), float(spacing[1]))
            out.append(
                crop_at(channels[:, :, :, k], centre, where, size_px=size, pixel_mm=pixel_mm)
            )
            plane = labels[None, :, :, k].astype(np.float32)
            tissue.append(
                crop_at(plane, centre, where, size_px=size, pixel_mm=pixel_mm, order=0)[0]
            )
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
    return CaseCrops(
        crops=np.stack(out),
        tissue=np.rint(np.stack(tissue)).astype(np.uint8),
        context=context,
        query_context=query_context,
        shares=label_shares(labels),
        targets=attribute_targets(study, mask, brain),
    )


#: One labelled case: ``(study, mask, diagnosis)`` or ``(study, mask, diagnosis, patient)``.
LabelledCase = tuple[StudyLike, np.ndarray, str] | tuple[StudyLike, np.ndarray, str, str]


def crop_set_of(cases: Iterable[tuple[CaseCrops, str, str]], classes: tuple[str, ...]) -> CropSet:
    """A crop set of ready ``(case crops, diagnosis, patient)`` (e.g. made in workers)."""
    crops, tissue, contexts, query_contexts = _RowBuffer(), [], _RowBuffer(), _RowBuffer()
    labels: list[int] = []
    owners: list[int] = []
    shares, targets, instance = [], [], []
    patients: dict[str, int] = {}
    separate_query = False
    for index, (case, diagnosis, patient) in enumerate(cases):
        if diagnosis not in classes:
            raise TrainingDataError(f"diagnosis {diagnosis!r} is not one of {classes}")
        crops.append(case.crops)
        tissue.append(case.tissue)
        contexts.append(case.context[None])
        query_contexts.append(case.query_context[None])
        separate_query = separate_query or case.query_context is not case.context
        labels += [classes.index(diagnosis)] * len(case.crops)
        owners += [index] * len(case.crops)
        shares.append(case.shares)
        targets.append(case.targets)
        instance.append(patients.setdefault(patient, len(patients)))
    context = contexts.array()
    return CropSet(
        crops=crops.array(),
        labels=np.asarray(labels, dtype=np.int64),
        case_index=np.asarray(owners, dtype=np.int64),
        classes=classes,
        context=context,
        # Without a segmenter the query side is the given mask's: the same array, no copy.
        query_context=query_contexts.array() if separate_query else context,
        tissue=np.concatenate(tissue),
        shares=np.stack(shares),
        targets=np.stack(targets),
        instance=np.asarray(instance, dtype=np.int64),
    )


def build_crop_set(
    cases: Iterable[LabelledCase],
    classes: tuple[str, ...],
    *,
    n_offsets: int = 2,
    segmenter: Segmenter | None = None,
) -> CropSet:
    """Training crops of labelled cases (the patient defaults to one per case).

    With a ``segmenter``, each case also gets the context planes of its segmentation.
    """

    def prepared() -> Iterable[tuple[CaseCrops, str, str]]:
        for index, case in enumerate(cases):
            study, mask, diagnosis = case[0], case[1], case[2]
            patient = case[3] if len(case) == 4 else f"case-{index}"
            query_mask = None if segmenter is None else segmenter.segment(study)
            yield (
                case_training_crops(study, mask, n_offsets=n_offsets, query_mask=query_mask),
                diagnosis,
                patient,
            )

    return crop_set_of(prepared(), classes)
