"""Crop augmentation for embedder training: shifts, flips, contrast, sequence dropout."""

from __future__ import annotations

import numpy as np

from models.context import CONTEXT_SIZE_PX
from models.slices import CROP_SIZE_PX

__all__ = ["augment_crops", "centre_crops", "sequence_dropout"]


def centre_crops(crops: np.ndarray, size: int = CROP_SIZE_PX) -> np.ndarray:
    """The centred ``size`` x ``size`` part of larger training crops (= inference crops)."""
    margin = (crops.shape[-1] - size) // 2
    return np.ascontiguousarray(crops[..., margin : margin + size, margin : margin + size])


def sequence_dropout(batch: np.ndarray, rng: np.random.Generator, probability: float) -> None:
    """Zero 1 to C-1 random channels of each crop with ``probability`` (in place)."""
    n, c = batch.shape[:2]
    for i in range(n):
        if rng.random() < probability:
            drop = int(rng.integers(1, c))
            batch[i, rng.choice(c, size=drop, replace=False)] = 0.0


def augment_crops(
    crops: np.ndarray,
    context: np.ndarray,
    rng: np.random.Generator,
    *,
    dropout: float = 0.5,
    context_dropout: float = 0.1,
    rotate: bool = False,
    size: int = CROP_SIZE_PX,
    context_size: int = CONTEXT_SIZE_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """Random shift (within the margin), left-right flip, per-channel contrast and noise.

    The context planes of each crop are shifted within their own margin and flipped
    together with the crop; with ``context_dropout`` they are blanked (as for a query
    that comes without them). With ``rotate`` the crop (not the brain-centred planes)
    is also turned by a random multiple of 90 degrees: lesion shape and texture do not
    depend on their orientation, where the lesion sits is in the planes.

    Args:
        crops: ``[B, C, S + 2m, S + 2m]`` training crops.
        context: ``[B, K, s + 2c, s + 2c]`` the context planes of each crop's case.
        rng: the random generator (seeded by the caller for determinism).
        dropout: probability of sequence dropout per crop.
        context_dropout: probability of blank context planes per crop.
        rotate: turn each crop by 0, 90, 180 or 270 degrees at random.
        size: output side of the crops.
        context_size: output side of the context planes.

    Returns:
        float32 ``[B, C, size, size]`` and ``[B, K, context_size, context_size]``.
    """
    n, c, side, _ = crops.shape
    out = np.empty((n, c, size, size), dtype=np.float32)
    context_out = np.empty((n, context.shape[1], context_size, context_size), dtype=np.float32)
    span = side - size
    context_span = context.shape[-1] - context_size
    for i in range(n):
        di, dj = (int(v) for v in rng.integers(0, span + 1, size=2))
        crop = crops[i, :, di : di + size, dj : dj + size].astype(np.float32)
        ci, cj = (int(v) for v in rng.integers(0, context_span + 1, size=2))
        planes = context[i, :, ci : ci + context_size, cj : cj + context_size].astype(np.float32)
        if rng.random() < 0.5:
            crop = crop[:, ::-1, :]
            planes = planes[:, ::-1, :]
        if rotate:
            crop = np.rot90(crop, int(rng.integers(0, 4)), axes=(1, 2))
        brain = crop != 0
        gain = rng.uniform(0.75, 1.33, size=(c, 1, 1)).astype(np.float32)
        shift = rng.uniform(-0.3, 0.3, size=(c, 1, 1)).astype(np.float32)
        noise = rng.normal(0.0, rng.uniform(0.0, 0.1), size=crop.shape).astype(np.float32)
        out[i] = np.where(brain, crop * gain + shift + noise, 0.0)
        context_out[i] = 0.0 if rng.random() < context_dropout else planes
    sequence_dropout(out, rng, dropout)
    return out, context_out
