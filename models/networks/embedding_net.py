"""A compact CNN that maps a 4-channel tumour crop to a 128-d unit vector."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

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


class EmbeddingNet(nn.Module):
    """Four VGG-style blocks, global average pooling, a linear head, L2 normalisation.

    Args:
        in_channels: input channels (the four sequences).
        dim: embedding size.
        widths: channels of the four blocks.
    """

    def __init__(
        self,
        in_channels: int = 4,
        dim: int = 128,
        widths: tuple[int, int, int, int] = (16, 32, 64, 128),
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.dim = dim
        self.widths = widths
        layers = []
        c_in = in_channels
        for width in widths:
            layers.append(_block(c_in, width))
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` float32 crops -> ``[B, dim]`` L2-normalised embeddings."""
        h = self.features(x)
        h = h.mean(dim=(2, 3))
        return functional.normalize(self.head(h), dim=1)
