"""Training of the embedder (triplet loss) and the segmenter (Dice + CE)."""

from models.training.crops import CropSet, build_crop_set
from models.training.embedder_training import EmbedderConfig, train_embedder
from models.training.segmenter_training import SegmenterConfig, build_volume_set, train_segmenter

__all__ = [
    "CropSet",
    "EmbedderConfig",
    "SegmenterConfig",
    "build_crop_set",
    "build_volume_set",
    "train_embedder",
    "train_segmenter",
]
