"""The segmenter's training volumes: each case on the segmenter grid, cut to its brain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from models.errors import TrainingDataError
from models.segmenter import brain_box, resample_channels, segmenter_grid_shape
from models.study_arrays import StudyLike, normalised_channels, voxel_spacing
from models.training.tissue_labels import tissue_labels

__all__ = ["VolumeSet", "build_volume_set", "volume_on_grid", "volume_set_of"]


@dataclass
class VolumeSet:
    """Training volumes on the segmenter grid, cropped to the brain.

    Attributes:
        images: per case float16 ``[4, x, y, z]``.
        labels: per case uint8 ``[x, y, z]`` BraTS labels.
        tissue: per case uint8 ``[x, y, z]`` label maps for rendering
            (:mod:`models.training.tissue_labels`).
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    tissue: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


def volume_on_grid(study: StudyLike, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training case on the segmenter grid: images, BraTS labels, tissue labels."""
    channels = normalised_channels(study)
    grid = segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    image = resample_channels(channels, grid)
    label = functional.interpolate(
        torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None], size=grid, mode="nearest"
    )[0, 0].numpy()
    box = brain_box(np.any(image != 0, axis=0) | (label > 0))
    image, label = image[(slice(None), *box)], label[box]
    tissue = tissue_labels(image, label)
    return image.astype(np.float16), label.astype(np.uint8), tissue


def build_volume_set(cases: Iterable[tuple[StudyLike, np.ndarray]]) -> VolumeSet:
    """Resample ``(study, mask)`` cases to the segmenter grid."""
    return volume_set_of(volume_on_grid(study, mask) for study, mask in cases)


def volume_set_of(volumes: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> VolumeSet:
    """A volume set of ready ``volume_on_grid`` results (e.g. made in workers)."""
    images, labels, tissue = [], [], []
    for image, label, tissue_map in volumes:
        images.append(image)
        labels.append(label)
        tissue.append(tissue_map)
    if not images:
        raise TrainingDataError("no training case")
    return VolumeSet(images=images, labels=labels, tissue=tissue)
