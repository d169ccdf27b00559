"""The 3-D tumour segmentation network (MONAI UNet, tiny channel counts)."""

from __future__ import annotations

from monai.networks.nets.unet import UNet
from torch import nn

__all__ = ["SEGMENTER_MULTIPLE", "SEGMENTER_SPACING_MM", "build_segmentation_net"]

#: The segmenter works on an isotropic grid of this spacing.
SEGMENTER_SPACING_MM = 2.0
#: Input sides must be multiples of this (three stride-2 levels).
SEGMENTER_MULTIPLE = 8


def build_segmentation_net(
    channels: tuple[int, ...] = (8, 16, 32, 64),
) -> nn.Module:
    """A MONAI 3-D UNet: 4 sequences in, 4 classes (background + BraTS labels 1-3) out.

    Args:
        channels: feature channels per level (the last is the bottleneck).

    Returns:
        The untrained network.
    """
    return UNet(
        spatial_dims=3,
        in_channels=4,
        out_channels=4,
        channels=channels,
        strides=(2,) * (len(channels) - 1),
        num_res_units=1,
        norm="instance",
    )
