"""The segmenter's training batches: whole brains cut or padded to one shape, mirrored,
scanner-augmented, partly rendered anew from their label maps, sequences dropped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from models.training.augment import sequence_keep
from models.training.domain_randomisation import render
from models.training.segmenter_volumes import VolumeSet
from models.training.tissue_labels import ENHANCING, N_LABELS, NECROTIC, OEDEMA

if TYPE_CHECKING:
    from models.training.segmenter_training import SegmenterConfig

__all__ = ["augment_scanner", "fit_volume", "segmenter_batch"]

#: BraTS label of each tissue label (normal tissue is background).
_BRATS_OF_LABEL = torch.zeros(N_LABELS, dtype=torch.int64)
_BRATS_OF_LABEL[NECROTIC], _BRATS_OF_LABEL[OEDEMA], _BRATS_OF_LABEL[ENHANCING] = 1, 2, 3


def fit_volume(
    image: np.ndarray,
    label: np.ndarray,
    tissue: np.ndarray,
    shape: tuple[int, int, int],
    rng: np.random.Generator,
    jitter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut or pad a brain box to ``shape`` around its centre, shifted by up to ``jitter``."""
    out_image = np.zeros((image.shape[0], *shape), dtype=np.float32)
    out_label = np.zeros(shape, dtype=np.uint8)
    out_tissue = np.zeros(shape, dtype=np.uint8)
    source, target = [], []
    for n, m in zip(label.shape, shape, strict=True):
        start = (n - m) // 2 + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)
        lo, hi = max(0, start), min(n, start + m)
        source.append(slice(lo, hi))
        target.append(slice(lo - start, hi - start))
    out_image[(slice(None), *target)] = image[(slice(None), *source)]
    out_label[tuple(target)] = label[tuple(source)]
    out_tissue[tuple(target)] = tissue[tuple(source)]
    return out_image, out_label, out_tissue


def augment_scanner(x: torch.Tensor, gen: torch.Generator, config: SegmenterConfig) -> torch.Tensor:
    """Per-sequence gain, offset and noise inside the brain: other scanners (on the device)."""
    b, c = x.shape[:2]
    shape = (b, c, 1, 1, 1)
    device = x.device
    low, high = 1.0 - config.gain, 1.0 / (1.0 - config.gain)
    gain = low + (high - low) * torch.rand(shape, generator=gen, device=device)
    shift = config.shift * (2.0 * torch.rand(shape, generator=gen, device=device) - 1.0)
    sigma = config.noise * torch.rand(shape, generator=gen, device=device)
    noise = sigma * torch.randn(x.shape, generator=gen, device=device)
    return torch.where(x != 0, x * gain + shift + noise, torch.zeros_like(x))


def segmenter_batch(
    train: VolumeSet,
    indices: np.ndarray,
    rng: np.random.Generator,
    config: SegmenterConfig,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``[B, 4, ...]`` and BraTS targets ``[B, 1, ...]`` on ``gen``'s device:
    a ``randomised_share`` of them rendered anew from their label maps."""
    images, labels, tissues = [], [], []
    for i in indices:
        image, label, tissue = fit_volume(
            train.images[i], train.labels[i], train.tissue[i], config.volume, rng, config.jitter
        )
        if rng.random() < 0.5:  # left-right (axis 0 is R->L in RAS)
            image, label, tissue = image[:, ::-1], label[::-1], tissue[::-1]
        images.append(np.ascontiguousarray(image))
        labels.append(np.ascontiguousarray(label))
        tissues.append(np.ascontiguousarray(tissue))
    device = gen.device
    x = augment_scanner(torch.from_numpy(np.stack(images)).to(device), gen, config)
    y = torch.from_numpy(np.stack(labels).astype(np.int64)).to(device)
    drawn = np.flatnonzero(rng.random(len(indices)) < config.randomised_share)
    if drawn.size:
        rendered, hard = render(torch.from_numpy(np.stack(tissues)[drawn]).to(device), gen)
        where = torch.from_numpy(drawn).to(device)
        x[where] = rendered
        y[where] = _BRATS_OF_LABEL.to(device)[hard]
    keep = sequence_keep(len(indices), x.shape[1], rng, config.sequence_dropout)
    x = x * torch.from_numpy(keep).to(device).view(len(indices), -1, 1, 1, 1)
    return x, y[:, None]
