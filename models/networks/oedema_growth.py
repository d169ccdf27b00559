"""Oedema the network missed: its tumour grown into FLAIR- and T2-bright brain.

The segmentation network, trained on rendered images, draws the tumour too small where
the surrounding oedema looks unlike its training data (on a generator it never saw,
about a fifth of the oedema stays background while being two standard deviations above
the brain on FLAIR; ``docs/models.md``, "Tenth round"). The radiological definition of
oedema is contrast-independent: tissue brighter than normal brain on FLAIR and T2,
contiguous with the lesion. :class:`OedemaGrowth` applies it after the network, in the
same graph (one ONNX file, one model version):

1. the network's tumour (arg-max not background) and the brain (any sequence non-zero);
2. FLAIR and T2 standardised against the brain the network calls normal (mean and SD
   of the brain outside its tumour, per image);
3. candidates: brain voxels with FLAIR above ``flair_z`` and T2 above ``t2_z`` SDs;
4. a geodesic dilation of the tumour inside the candidates, ``steps`` face-connected
   steps on the network's grid (2 mm: 4 steps reach 8 mm beyond the network's edge);
5. the voxels reached that were background become oedema (label 2): their oedema score
   is set above every other class's.

A study without FLAIR or T2 (a zero channel) is left as the network drew it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

__all__ = ["FLAIR_CHANNEL", "OEDEMA_LABEL", "T2_CHANNEL", "OedemaGrowth"]

#: Input channel order: T1, T1C, T2, FLAIR.
T2_CHANNEL = 2
FLAIR_CHANNEL = 3
#: BraTS label of oedema (and its logit channel).
OEDEMA_LABEL = 2


def _standardised(
    channel: torch.Tensor, normal: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """``channel`` ``[B, X, Y, Z]`` in SDs of its values where ``normal``; zero where absent."""
    weight = normal.to(channel.dtype)
    count = weight.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1.0)
    mean = (channel * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    variance = ((channel - mean) ** 2 * weight).sum(dim=(1, 2, 3), keepdim=True) / count
    z = (channel - mean) / torch.sqrt(variance + 1e-6)
    return z * present.to(channel.dtype)


def _face_dilation(mask: torch.Tensor) -> torch.Tensor:
    """One face-connected (6-neighbour) dilation of a float ``[B, 1, X, Y, Z]`` mask."""
    along_x = functional.max_pool3d(mask, (3, 1, 1), stride=1, padding=(1, 0, 0))
    along_y = functional.max_pool3d(mask, (1, 3, 1), stride=1, padding=(0, 1, 0))
    along_z = functional.max_pool3d(mask, (1, 1, 3), stride=1, padding=(0, 0, 1))
    return torch.maximum(torch.maximum(along_x, along_y), along_z)


class OedemaGrowth(nn.Module):
    """A segmentation network followed by the oedema growth (module docstring).

    Args:
        net: the segmentation network (``[B, 4, X, Y, Z]`` -> logits ``[B, 4, X, Y, Z]``).
        flair_z: FLAIR threshold in SDs of the normal brain.
        t2_z: T2 threshold in SDs of the normal brain.
        steps: face-connected dilation steps on the network's grid.
    """

    def __init__(self, net: nn.Module, *, flair_z: float, t2_z: float, steps: int) -> None:
        super().__init__()
        if steps < 0:
            raise ValueError(f"steps must be >= 0, not {steps}")
        self.net = net
        self.flair_z = float(flair_z)
        self.t2_z = float(t2_z)
        self.steps = int(steps)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(image)
        return grow_oedema(logits, image, flair_z=self.flair_z, t2_z=self.t2_z, steps=self.steps)


def grow_oedema(
    logits: torch.Tensor, image: torch.Tensor, *, flair_z: float, t2_z: float, steps: int
) -> torch.Tensor:
    """``logits`` ``[B, 4, ...]`` with the oedema the growth adds (module docstring)."""
    tumour = logits.argmax(dim=1) > 0
    brain = (image != 0).any(dim=1)
    normal = brain & ~tumour
    flair = image[:, FLAIR_CHANNEL]
    t2 = image[:, T2_CHANNEL]
    present_flair = (flair != 0).flatten(1).any(dim=1).view(-1, 1, 1, 1)
    present_t2 = (t2 != 0).flatten(1).any(dim=1).view(-1, 1, 1, 1)
    candidates = (
        brain
        & (_standardised(flair, normal, present_flair) > flair_z)
        & (_standardised(t2, normal, present_t2) > t2_z)
        & present_flair
        & present_t2
    )
    allowed = (candidates | tumour).unsqueeze(1).to(logits.dtype)
    grown = tumour.unsqueeze(1).to(logits.dtype)
    for _ in range(steps):
        grown = _face_dilation(grown) * allowed
    added = (grown[:, 0] > 0) & ~tumour
    top = logits.max(dim=1).values + 1.0
    oedema = torch.where(added, top, logits[:, OEDEMA_LABEL])
    return torch.cat(
        [logits[:, :OEDEMA_LABEL], oedema.unsqueeze(1), logits[:, OEDEMA_LABEL + 1 :]], dim=1
    )
