"""The measured-signs part of a case vector (:mod:`models.signs`), as a small torch module.

Given the signs of a tumour it returns two unit-norm parts, each scaled by its weight:

- **diagnosis from the signs**: a linear classifier of the standardised signs; the part is
  the square root of its class probabilities, so the dot product of two such parts is the
  Bhattacharyya coefficient of their probabilities (1: the same signs of the same
  diagnosis; 0: certain and different);
- **appearance**: each chosen sign (size, compartments, count, place) standardised and
  turned into an angle, ``[cos a, sin a]`` per sign (weighted); the dot product of two
  such parts is the weighted mean of ``cos(a - a')``, 1 when the two tumours agree on every
  sign, falling as they differ by more standard deviations (capped at ``CLIP_SD``).

Everything is held in buffers that the model card also lists (``architecture``), so the
ONNX graph, the torch weights and the card describe one model. An all-zero sign row (no
signs measured, e.g. a single 2-D image) gives zero parts: such a query is ranked by the
image part alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["CLIP_SD", "SignsHead"]

#: Signs further than this many standard deviations from the mean are clipped.
CLIP_SD = 3.0


class SignsHead(nn.Module):
    """Signs ``[B, S]`` -> ``[B, K + 2A]`` (diagnosis part, appearance part).

    Args:
        names: the signs, in input order.
        classes: the diagnoses the classifier knows, in output order.
        mean, scale: standardisation of each sign.
        coef, intercept: the linear classifier, ``[K, S]`` and ``[K]``.
        appearance: names of the signs in the appearance part.
        appearance_weights: their weights (normalised to sum 1).
        radians_per_sd: angle per standard deviation (``CLIP_SD`` times it is at most pi/2).
        diagnosis_weight, appearance_weight: the two parts' weights in the case vector (the
            image part's is 1).
    """

    mean: torch.Tensor
    scale: torch.Tensor
    coef: torch.Tensor
    intercept: torch.Tensor
    index: torch.Tensor
    root_weights: torch.Tensor

    def __init__(
        self,
        *,
        names: Sequence[str],
        classes: Sequence[str],
        mean: Sequence[float],
        scale: Sequence[float],
        coef: Sequence[Sequence[float]],
        intercept: Sequence[float],
        appearance: Sequence[str],
        appearance_weights: Sequence[float],
        radians_per_sd: float,
        diagnosis_weight: float,
        appearance_weight: float,
    ) -> None:
        super().__init__()
        self._arch: dict[str, Any] = {
            "names": list(names),
            "classes": list(classes),
            "mean": [float(v) for v in mean],
            "scale": [float(v) for v in scale],
            "coef": [[float(v) for v in row] for row in coef],
            "intercept": [float(v) for v in intercept],
            "appearance": list(appearance),
            "appearance_weights": [float(v) for v in appearance_weights],
            "radians_per_sd": float(radians_per_sd),
            "diagnosis_weight": float(diagnosis_weight),
            "appearance_weight": float(appearance_weight),
        }
        self.names = tuple(names)
        self.classes = tuple(classes)
        self.appearance = tuple(appearance)
        self.radians_per_sd = float(radians_per_sd)
        self.diagnosis_weight = float(diagnosis_weight)
        self.appearance_weight = float(appearance_weight)
        if len(mean) != len(self.names) or len(scale) != len(self.names):
            raise ValueError("mean and scale need one value per sign")
        if len(appearance_weights) != len(self.appearance):
            raise ValueError("appearance_weights need one value per appearance sign")
        weights = torch.tensor(appearance_weights, dtype=torch.float32)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
        self.register_buffer("coef", torch.tensor(coef, dtype=torch.float32))
        self.register_buffer("intercept", torch.tensor(intercept, dtype=torch.float32))
        self.register_buffer(
            "index", torch.tensor([self.names.index(n) for n in self.appearance], dtype=torch.long)
        )
        self.register_buffer("root_weights", torch.sqrt(weights / weights.sum()))

    @property
    def out_dim(self) -> int:
        """Length of the output: classes plus two per appearance sign."""
        return len(self.classes) + 2 * len(self.appearance)

    def architecture(self) -> dict[str, Any]:
        """The constructor's arguments (JSON-ready); :meth:`from_architecture` inverts it."""
        copied: dict[str, Any] = json.loads(json.dumps(self._arch))
        return copied

    @classmethod
    def from_architecture(cls, arch: Mapping[str, Any]) -> SignsHead:
        """The head a model card's ``architecture["signs"]`` describes."""
        return cls(**dict(arch))

    def forward(self, signs: torch.Tensor) -> torch.Tensor:
        present = (signs.abs().sum(dim=1, keepdim=True) > 0).to(signs.dtype)
        z = (signs - self.mean) / self.scale
        probabilities = torch.softmax(z @ self.coef.T + self.intercept, dim=1)
        diagnosis = torch.sqrt(probabilities) * self.diagnosis_weight
        angles = torch.clamp(z[:, self.index], -CLIP_SD, CLIP_SD) * self.radians_per_sd
        appearance = torch.cat(
            [torch.cos(angles) * self.root_weights, torch.sin(angles) * self.root_weights], dim=1
        )
        return torch.cat([diagnosis, appearance * self.appearance_weight], dim=1) * present


def default_radians_per_sd() -> float:
    """``CLIP_SD`` standard deviations apart is a right angle (cosine 0)."""
    return math.pi / 2 / CLIP_SD
