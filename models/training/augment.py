"""Crop augmentation for embedder training: shifts, flips, contrast, sequence dropout.

:func:`randomised_views` renders most crops anew from their label maps with random
contrasts (:mod:`models.training.domain_randomisation`); the rest keep the generator's
own rendering with a milder per-sequence gain, offset and noise (:func:`augment_crops`).
"""

from __future__ import annotations

import numpy as np
import torch

from models.context import CONTEXT_SIZE_PX
from models.slices import CROP_SIZE_PX
from models.training.domain_randomisation import RenderConfig, render

__all__ = [
    "augment_crops",
    "centre_crops",
    "randomised_views",
    "sequence_dropout",
    "sequence_keep",
]


def centre_crops(crops: np.ndarray, size: int = CROP_SIZE_PX) -> np.ndarray:
    """The centred ``size`` x ``size`` part of larger training crops (= inference crops)."""
    margin = (crops.shape[-1] - size) // 2
    return np.ascontiguousarray(crops[..., margin : margin + size, margin : margin + size])


def sequence_keep(n: int, c: int, rng: np.random.Generator, probability: float) -> np.ndarray:
    """Which channels survive sequence dropout: ``[n, c]`` float32 of 1 and 0, with 1 to
    C-1 random channels of each item dropped with ``probability``."""
    keep = np.ones((n, c), dtype=np.float32)
    for i in range(n):
        if rng.random() < probability:
            drop = int(rng.integers(1, c))
            keep[i, rng.choice(c, size=drop, replace=False)] = 0.0
    return keep


def sequence_dropout(batch: np.ndarray, rng: np.random.Generator, probability: float) -> None:
    """Zero 1 to C-1 random channels of each crop with ``probability`` (in place)."""
    batch[sequence_keep(batch.shape[0], batch.shape[1], rng, probability) == 0] = 0.0


def _windows(
    crops: np.ndarray,
    tissue: np.ndarray | None,
    context: np.ndarray,
    rng: np.random.Generator,
    flips: np.ndarray,
    rotate: bool,
    size: int,
    context_size: int,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Random windows of the crops (and their label maps) and of the context planes."""
    n, c, side, _ = crops.shape
    out = np.empty((n, c, size, size), dtype=np.float32)
    labels = None if tissue is None else np.empty((n, size, size), dtype=np.uint8)
    planes_out = np.empty((n, context.shape[1], context_size, context_size), dtype=np.float32)
    span = side - size
    context_span = context.shape[-1] - context_size
    for i in range(n):
        di, dj = (int(v) for v in rng.integers(0, span + 1, size=2))
        crop = crops[i, :, di : di + size, dj : dj + size].astype(np.float32)
        label = None if tissue is None else tissue[i, di : di + size, dj : dj + size]
        ci, cj = (int(v) for v in rng.integers(0, context_span + 1, size=2))
        planes = context[i, :, ci : ci + context_size, cj : cj + context_size].astype(np.float32)
        if flips[i]:
            crop = crop[:, ::-1, :]
            planes = planes[:, ::-1, :]
            label = None if label is None else label[::-1, :]
        if rotate:
            turns = int(rng.integers(0, 4))
            crop = np.rot90(crop, turns, axes=(1, 2))
            label = None if label is None else np.rot90(label, turns)
        out[i] = crop
        planes_out[i] = planes
        if labels is not None and label is not None:
            labels[i] = label
    return out, labels, planes_out


def _scanner_jitter(crops: np.ndarray, rng: np.random.Generator) -> None:
    """Per-sequence gain, offset and noise inside the brain (in place)."""
    n, c = crops.shape[:2]
    for i in range(n):
        crop = crops[i]
        brain = crop != 0
        gain = rng.uniform(0.75, 1.33, size=(c, 1, 1)).astype(np.float32)
        shift = rng.uniform(-0.3, 0.3, size=(c, 1, 1)).astype(np.float32)
        noise = rng.normal(0.0, rng.uniform(0.0, 0.1), size=crop.shape).astype(np.float32)
        crops[i] = np.where(brain, crop * gain + shift + noise, 0.0)


def _context_dropout(planes: np.ndarray, rng: np.random.Generator, probability: float) -> None:
    for i in range(len(planes)):
        if rng.random() < probability:
            planes[i] = 0.0


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
    flips = rng.random(len(crops)) < 0.5
    out, _, planes = _windows(crops, None, context, rng, flips, rotate, size, context_size)
    _scanner_jitter(out, rng)
    _context_dropout(planes, rng, context_dropout)
    sequence_dropout(out, rng, dropout)
    return out, planes


def randomised_views(
    crops: np.ndarray,
    tissue: np.ndarray,
    context: np.ndarray,
    shares: np.ndarray,
    rng: np.random.Generator,
    gen: torch.Generator,
    *,
    flips: np.ndarray,
    real_share: float = 0.3,
    dropout: float = 0.5,
    context_dropout: float = 0.1,
    rotate: bool = False,
    render_config: RenderConfig | None = None,
    size: int = CROP_SIZE_PX,
    context_size: int = CONTEXT_SIZE_PX,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One view of each crop: shifted and flipped (by ``flips``) like :func:`augment_crops`,
    and, for all but about ``real_share`` of them, rendered anew from the crop's label map
    with random contrast on ``gen``'s device.

    Args:
        crops: ``[B, C, S + 2m, S + 2m]`` training crops.
        tissue: ``[B, S + 2m, S + 2m]`` their label maps.
        context: ``[B, K, s + 2c, s + 2c]`` the context planes of each crop's case.
        shares: ``[B, N_LABELS]`` the label fractions of each crop's brain.
        rng, gen: the random generators (numpy for choices, torch for rendering).
        flips: ``[B]`` bool, which crops are mirrored (two views of a crop share it).

    Returns:
        float32 tensors ``[B, C, size, size]`` and ``[B, K, context_size, context_size]``
        on ``gen``'s device.
    """
    out, labels, planes = _windows(crops, tissue, context, rng, flips, rotate, size, context_size)
    assert labels is not None
    real = rng.random(len(out)) < real_share
    jittered = out[real]
    _scanner_jitter(jittered, rng)
    out[real] = jittered
    device = gen.device
    x = torch.from_numpy(out).to(device)
    drawn = np.flatnonzero(~real)
    if drawn.size:
        images, _ = render(
            torch.from_numpy(labels[drawn]).to(device),
            gen,
            render_config or RenderConfig(),
            shares=torch.from_numpy(np.asarray(shares[drawn], dtype=np.float32)).to(device),
        )
        x[torch.from_numpy(drawn).to(device)] = images
    # Sequence dropout as for real crops (missing series are zeros at inference).
    keep = sequence_keep(len(out), out.shape[1], rng, dropout)
    x = x * torch.from_numpy(keep).to(device)[:, :, None, None]
    _context_dropout(planes, rng, context_dropout)
    return x, torch.from_numpy(planes).to(device)
