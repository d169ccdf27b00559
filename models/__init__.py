"""Tumour segmentation, slice selection, embedding, training and the synthetic corpus.

Imports only :mod:`dicom_conversion` from simcase's own packages.
"""

from models.embedder import Embedder, OnnxEmbedder, TorchEmbedder, combine_rows
from models.errors import (
    ChecksumMismatchError,
    EmptyMaskError,
    InvalidStudyError,
    ModelError,
    TrainingDataError,
    WeightsNotFoundError,
)
from models.facts import TumourFacts, tumour_facts
from models.registry import SHIPPED_MODEL_DIR, ModelCard, load_card
from models.segmenter import OnnxSegmenter, Segmenter, TorchSegmenter
from models.slices import TumourSlices, select_tumour_slices
from models.study_arrays import CHANNELS, normalised_channels

__all__ = [
    "CHANNELS",
    "SHIPPED_MODEL_DIR",
    "ChecksumMismatchError",
    "Embedder",
    "EmptyMaskError",
    "InvalidStudyError",
    "ModelCard",
    "ModelError",
    "OnnxEmbedder",
    "OnnxSegmenter",
    "Segmenter",
    "TorchEmbedder",
    "TorchSegmenter",
    "TrainingDataError",
    "TumourFacts",
    "TumourSlices",
    "WeightsNotFoundError",
    "combine_rows",
    "load_card",
    "normalised_channels",
    "select_tumour_slices",
    "tumour_facts",
]
