"""The torch networks: the crop embedder and the 3-D segmenter."""

from models.networks.embedding_net import EmbeddingNet
from models.networks.segmentation_net import SEGMENTER_SPACING_MM, build_segmentation_net

__all__ = ["SEGMENTER_SPACING_MM", "EmbeddingNet", "build_segmentation_net"]
