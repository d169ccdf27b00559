"""Exceptions raised by :mod:`models`."""

from __future__ import annotations

__all__ = [
    "ChecksumMismatchError",
    "EmptyMaskError",
    "InvalidStudyError",
    "ModelError",
    "TrainingDataError",
    "WeightsNotFoundError",
]


class ModelError(Exception):
    """A model could not be loaded, trained or run."""

    __module__ = "models"


class WeightsNotFoundError(ModelError):
    """The weights or the model card of a model are missing."""

    __module__ = "models"


class ChecksumMismatchError(ModelError):
    """The weights on disk do not match the sha256 recorded in their model card."""

    __module__ = "models"


class EmptyMaskError(ModelError):
    """The tumour mask holds no tumour voxel, so there is nothing to embed or describe."""

    __module__ = "models"


class InvalidStudyError(ModelError):
    """A study has no usable sequence, or arrays and mask disagree in shape."""

    __module__ = "models"


class TrainingDataError(ModelError):
    """A training or evaluation folder is missing cases, labels or masks."""

    __module__ = "models"
