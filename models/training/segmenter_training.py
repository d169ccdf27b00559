"""Patch-based training of the 3-D segmenter (MONAI UNet, Dice + cross-entropy)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.losses.dice import DiceCELoss
from torch import nn
from torch.nn import functional
from tqdm import tqdm

from models.errors import TrainingDataError
from models.networks.segmentation_net import build_segmentation_net
from models.segmenter import brain_box, pad_to_multiple, resample_channels, segmenter_grid_shape
from models.study_arrays import StudyLike, normalised_channels, voxel_spacing
from models.training.augment import sequence_keep
from models.training.checkpoints import (
    load_checkpoint,
    optimiser_to,
    save_checkpoint,
    seed_everything,
)
from models.training.domain_randomisation import render
from models.training.tissue_labels import ENHANCING, N_LABELS, NECROTIC, OEDEMA, tissue_labels

__all__ = [
    "SegmenterConfig",
    "VolumeSet",
    "build_volume_set",
    "seconds_per_step",
    "segmenter_config_of",
    "train_segmenter",
    "whole_tumour_dice",
]

logger = logging.getLogger(__name__)


#: BraTS label of each tissue label (normal tissue is background).
_BRATS_OF_LABEL = torch.zeros(N_LABELS, dtype=torch.int64)
_BRATS_OF_LABEL[NECROTIC], _BRATS_OF_LABEL[OEDEMA], _BRATS_OF_LABEL[ENHANCING] = 1, 2, 3


@dataclass(frozen=True)
class SegmenterConfig:
    """Hyper-parameters of segmenter training (all recorded in the model card).

    Every step sees whole brains: the brain box of each case (as inference crops it,
    see :func:`models.segmenter.brain_box`) cut or padded to ``volume`` voxels around
    its centre, shifted by up to ``jitter`` voxels. Whole inputs keep the instance-norm
    statistics of training and inference alike (tumour-centred patches did not).
    """

    epochs: int = 12
    seed: int = 0
    volume: tuple[int, int, int] = (80, 96, 80)
    jitter: int = 6
    batch_size: int = 2
    lr: float = 3e-3
    sequence_dropout: float = 0.3
    gain: float = 0.2
    shift: float = 0.3
    noise: float = 0.15
    channels: tuple[int, ...] = (8, 16, 32, 64)
    threads: int = 2
    #: Share of training volumes rendered anew from their label maps with random
    #: contrast, texture, deformation, bias, blur and noise (domain randomisation).
    randomised_share: float = 0.7


def segmenter_config_of(values: dict[str, Any]) -> SegmenterConfig:
    """A configuration back from its JSON form (``asdict`` with tuples as lists)."""
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return SegmenterConfig(**fields)


@dataclass
class VolumeSet:
    """Training volumes on the segmenter grid, cropped to the brain.

    Attributes:
        images: per case float16 ``[4, x, y, z]``.
        labels: per case uint8 ``[x, y, z]`` BraTS labels.
        tissue: per case uint8 ``[x, y, z]`` label maps for rendering
            (:mod:`models.training.tissue_labels`).
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]
    tissue: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


def volume_on_grid(study: StudyLike, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training case on the segmenter grid: images, BraTS labels, tissue labels."""
    channels = normalised_channels(study)
    grid = segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    image = resample_channels(channels, grid)
    label = functional.interpolate(
        torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None], size=grid, mode="nearest"
    )[0, 0].numpy()
    box = brain_box(np.any(image != 0, axis=0) | (label > 0))
    image, label = image[(slice(None), *box)], label[box]
    tissue = tissue_labels(image, label)
    return image.astype(np.float16), label.astype(np.uint8), tissue


def build_volume_set(cases: Iterable[tuple[StudyLike, np.ndarray]]) -> VolumeSet:
    """Resample ``(study, mask)`` cases to the segmenter grid."""
    return volume_set_of(volume_on_grid(study, mask) for study, mask in cases)


def volume_set_of(volumes: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> VolumeSet:
    """A volume set of ready ``volume_on_grid`` results (e.g. made in workers)."""
    images, labels, tissue = [], [], []
    for image, label, tissue_map in volumes:
        images.append(image)
        labels.append(label)
        tissue.append(tissue_map)
    if not images:
        raise TrainingDataError("no training case")
    return VolumeSet(images=images, labels=labels, tissue=tissue)


def _fit(
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


def _augment(x: torch.Tensor, gen: torch.Generator, config: SegmenterConfig) -> torch.Tensor:
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


def _batch(
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
        image, label, tissue = _fit(
            train.images[i], train.labels[i], train.tissue[i], config.volume, rng, config.jitter
        )
        if rng.random() < 0.5:  # left-right (axis 0 is R->L in RAS)
            image, label, tissue = image[:, ::-1], label[::-1], tissue[::-1]
        images.append(np.ascontiguousarray(image))
        labels.append(np.ascontiguousarray(label))
        tissues.append(np.ascontiguousarray(tissue))
    device = gen.device
    x = _augment(torch.from_numpy(np.stack(images)).to(device), gen, config)
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


def seconds_per_step(
    train: VolumeSet, config: SegmenterConfig, device: str = "cpu", steps: int = 5
) -> float:
    """Measured seconds of one training step (batch, forward, backward) on ``device``,
    with a scratch network: a time budget becomes a number of epochs before training."""
    net = build_segmentation_net(config.channels).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    rng = np.random.default_rng(0)
    gen = torch.Generator(device=device).manual_seed(0)
    times = []
    for _ in range(steps + 1):
        began = time.perf_counter()
        x, y = _batch(train, rng.integers(0, len(train), config.batch_size), rng, config, gen)
        loss = loss_fn(net(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        float(loss.item())  # waits for the device
        times.append(time.perf_counter() - began)
    return float(np.median(times[1:]))


def whole_tumour_dice(net: nn.Module, volumes: VolumeSet) -> float:
    """Mean Dice of the whole tumour (labels > 0) over brain-box volumes."""
    scores = []
    device = next(net.parameters()).device
    with torch.inference_mode():
        for image, label in zip(volumes.images, volumes.labels, strict=True):
            padded, valid = pad_to_multiple(image.astype(np.float32))
            logits = net(torch.from_numpy(padded[None]).to(device))[0]
            predicted = logits.argmax(0).cpu().numpy()[: valid[0], : valid[1], : valid[2]] > 0
            truth = label > 0
            total = int(predicted.sum() + truth.sum())
            scores.append(1.0 if total == 0 else 2.0 * int((predicted & truth).sum()) / total)
    return float(np.mean(scores))


def train_segmenter(
    train: VolumeSet,
    config: SegmenterConfig,
    work_dir: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    device: str = "cpu",
    valid: VolumeSet | None = None,
    initial: dict[str, torch.Tensor] | None = None,
) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Train the segmenter on whole brains (Dice + cross-entropy, one-cycle schedule).

    One epoch visits every training case once. ``checkpoint.pt`` in ``work_dir`` is
    written after every epoch and resumed from when ``resume`` is true. With ``valid``,
    the whole-tumour Dice on those cases is recorded after every epoch. ``initial``:
    weights to start from (fine-tuning) instead of a random initialisation.
    """
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    net = build_segmentation_net(config.channels)
    if initial is not None:
        net.load_state_dict(initial)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-5)
    steps_per_epoch = int(np.ceil(len(train) / config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.1
    )
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    history: list[dict[str, Any]] = []
    start = 0
    checkpoint_path = work_dir / "checkpoint.pt"
    state = load_checkpoint(checkpoint_path) if resume else None
    if state is not None:
        if state.get("config") != asdict(config):
            raise TrainingDataError(
                f"{checkpoint_path} was made with other settings; remove it or use --no-resume"
            )
        net.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        start = int(state["epoch"])
        history = list(state["history"])
    net.to(device)
    optimiser_to(optimiser, device)

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 1000 + epoch)
        net.train()
        gen = torch.Generator(device=device).manual_seed(config.seed * 1000 + epoch)
        order = rng.permutation(len(train))
        steps = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        total = 0.0
        desc = f"segmenter epoch {epoch + 1}/{config.epochs}"
        bar = tqdm(steps, desc=desc, disable=not progress)
        for step in bar:
            x, y = _batch(train, step, rng, config, gen)
            loss = loss_fn(net(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += float(loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "loss": total / max(1, len(steps)),
            "seconds": time.perf_counter() - began,
        }
        if valid is not None:
            net.eval()
            record["valid_dice_whole_tumour"] = whole_tumour_dice(net, valid)
        history.append(record)
        logger.info("segmenter epoch %d: %s", epoch + 1, record)
        save_checkpoint(
            checkpoint_path,
            {
                "epoch": epoch + 1,
                "model": net.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": history,
                "config": asdict(config),
            },
        )
    net.to("cpu").eval()
    return net, history
