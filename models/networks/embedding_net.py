"""A compact CNN that maps a 4-channel tumour crop (and its context planes) to a unit vector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from models.context import CONTEXT_SIZE_PX
from models.networks.signs_head import SignsHead

__all__ = ["EmbeddingNet"]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def _tower(c_in: int, widths: tuple[int, ...]) -> nn.Sequential:
    layers = []
    for width in widths:
        layers.append(_block(c_in, width))
        c_in = width
    return nn.Sequential(*layers)


class EmbeddingNet(nn.Module):
    """VGG-style towers, global average pooling, a linear head, L2 normalisation.

    The crop tower sees the four sequences around the tumour; the optional context
    tower sees the whole-brain context planes (:mod:`models.context`). Their pooled
    features are concatenated before the head.

    Args:
        in_channels: input channels of the crops (the four sequences).
        dim: embedding size.
        widths: channels of the crop tower's four blocks.
        context_channels: context planes (0: no context tower).
        context_widths: channels of the context tower's blocks.
        flip_average: in eval mode, embed each crop (with its planes) as given and
            mirrored left-right and return the normalised mean of the two: the
            network was trained on both sides, and the average is steadier than
            either (in the exported ONNX graph too, so the weights carry it).
        signs: a :class:`~models.networks.signs_head.SignsHead`'s architecture: the
            network then also takes the tumour's measured signs and returns the image
            vector (weight 1) followed by the signs' parts, normalised together
            (``out_dim`` long).
    """

    def __init__(
        self,
        in_channels: int = 4,
        dim: int = 128,
        widths: tuple[int, int, int, int] = (16, 32, 64, 128),
        context_channels: int = 0,
        context_widths: tuple[int, int, int, int] = (8, 16, 32, 64),
        flip_average: bool = False,
        signs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.dim = dim
        self.widths = widths
        self.context_channels = context_channels
        self.context_widths = context_widths
        self.flip_average = flip_average
        self.features = _tower(in_channels, widths)
        features = widths[-1]
        self.context: nn.Sequential | None = None
        if context_channels > 0:
            self.context = _tower(context_channels, context_widths)
            features += context_widths[-1]
        self.head = nn.Linear(features, dim)
        self.signs: SignsHead | None = None if signs is None else SignsHead.from_architecture(signs)

    @property
    def out_dim(self) -> int:
        """Length of the vectors :meth:`forward` returns in eval mode."""
        return self.dim + (0 if self.signs is None else self.signs.out_dim)

    @property
    def sign_count(self) -> int:
        """Signs the network takes (0: none)."""
        return 0 if self.signs is None else len(self.signs.names)

    def architecture(self) -> dict[str, Any]:
        """The constructor's arguments as the model card records them (plus the class and
        the parameter count); :meth:`from_architecture` builds the network back from them."""
        extra = {} if self.signs is None else {"signs": self.signs.architecture()}
        return {
            "class": "models.networks.EmbeddingNet",
            "in_channels": self.in_channels,
            "dim": self.dim,
            "widths": list(self.widths),
            "context_channels": self.context_channels,
            "context_widths": list(self.context_widths),
            "flip_average": self.flip_average,
            "parameters": sum(p.numel() for p in self.parameters()),
            **extra,
        }

    @classmethod
    def from_architecture(cls, arch: Mapping[str, Any]) -> EmbeddingNet:
        """A fresh network as a model card's ``architecture`` describes it (keys that older
        cards lack take the constructor's defaults)."""
        return cls(
            in_channels=int(arch.get("in_channels", 4)),
            dim=int(arch.get("dim", 128)),
            widths=tuple(arch.get("widths", (16, 32, 64, 128))),  # type: ignore[arg-type]
            context_channels=int(arch.get("context_channels", 0)),
            context_widths=tuple(arch.get("context_widths", (8, 16, 32, 64))),  # type: ignore[arg-type]
            flip_average=bool(arch.get("flip_average", False)),
            signs=arch.get("signs"),
        )

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        signs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, C, H, W]`` crops (and ``[B, K, h, w]`` context, ``[B, S]`` signs) ->
        ``[B, out_dim]`` unit vectors.

        A network with a context tower given no context sees empty planes of the size
        it was trained on (the output depends on it through the zero padding); a network
        with signs given none (or zeros) returns zeros in their place.
        """
        if self.context is not None and context is None:
            side = CONTEXT_SIZE_PX
            context = x.new_zeros((x.shape[0], self.context_channels, side, side))
        out = self._embed(x, context)
        if self.flip_average and not self.training:
            # Crops and planes are [.., X, Y]: mirror the X axis of both, as in training.
            mirrored = self._embed(x.flip(2), None if context is None else context.flip(2))
            out = functional.normalize(out + mirrored, dim=1)
        if self.signs is not None:
            if signs is None:
                signs = x.new_zeros((x.shape[0], len(self.signs.names)))
            out = functional.normalize(torch.cat([out, self.signs(signs)], dim=1), dim=1)
        return out

    def _embed(self, x: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        h = self.features(x).mean(dim=(2, 3))
        if self.context is not None and context is not None:
            h = torch.cat([h, self.context(context).mean(dim=(2, 3))], dim=1)
        return functional.normalize(self.head(h), dim=1)
