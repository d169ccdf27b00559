"""The embedder's training configuration: :class:`EmbedderConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from models.context import CONTEXT_CHANNELS
from models.networks.embedding_net import EmbeddingNet

__all__ = ["EmbedderConfig"]


@dataclass(frozen=True)
class EmbedderConfig:
    """Hyper-parameters of embedder training (all recorded in the model card)."""

    epochs: int = 20
    seed: int = 0
    per_class: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    margin: float = 0.2
    miner: str = "semihard"
    sequence_dropout: float = 0.5
    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    dim: int = 128
    threads: int = 2
    #: Give the network the whole-brain context planes (:mod:`models.context`).
    context: bool = True
    context_dropout: float = 0.1
    #: Turn training crops by random multiples of 90 degrees (not the context planes).
    #: Off: valid3 0.9405 with it, 0.9524 without (hard-enriched data, 40 epochs).
    rotate_crops: bool = False
    #: Probability that a crop gets the context planes of the segmenter's mask instead
    #: of the given one (needs a crop set built with a segmenter).
    segmented_context: float = 0.5
    context_widths: tuple[int, int, int, int] = (8, 16, 32, 64)
    #: Weight of an auxiliary normalised-softmax (proxy) loss beside the triplet loss (0: off).
    softmax_weight: float = 0.5
    softmax_temperature: float = 0.05
    #: Decay of an exponential moving average of the weights, which is what ships (0: off).
    ema_decay: float = 0.995
    #: Average each crop's vector with its mirror image's at inference (in the ONNX graph).
    #: Off: on valid3 it helped the rotation-trained candidate (+0.010) and hurt the
    #: shipped one (-0.008), i.e. within chance, at twice the inference cost.
    flip_average: bool = False
    #: Render this share of training crops anew from their label maps with random
    #: contrast, texture, bias, blur and noise (0: the generator's images only).
    randomised_share: float = 0.7
    #: Weight of an instance term (NT-Xent over two views of every crop, positives = the
    #: same patient): the renderer must not matter, the lesion must; cases of one
    #: diagnosis stay apart instead of collapsing onto one point (0: off, one view).
    instance_weight: float = 0.5
    instance_temperature: float = 0.1
    #: Weight of a linear read-out of the tumour's attributes (size, compartments,
    #: lesion count, position; :data:`models.training.crops.ATTRIBUTES`) from the vector.
    attribute_weight: float = 0.3

    def network(self) -> EmbeddingNet:
        """A fresh network of this configuration's architecture."""
        return EmbeddingNet(
            dim=self.dim,
            widths=self.widths,
            context_channels=CONTEXT_CHANNELS if self.context else 0,
            context_widths=self.context_widths,
            flip_average=self.flip_average,
        )
