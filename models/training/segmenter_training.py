"""Whole-brain training of the 3-D segmenter (MONAI UNet, Dice + cross-entropy).

The volumes (:mod:`~models.training.segmenter_volumes`) and batches
(:mod:`~models.training.segmenter_batches`) live beside this module; the epoch loop's
seeds and checkpoint are :mod:`models.training.loop`'s, shared with the embedder.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.losses.dice import DiceCELoss
from torch import nn
from tqdm import tqdm

from models.networks.segmentation_net import build_segmentation_net
from models.segmenter import pad_to_multiple
from models.training.loop import TrainingState, optimise, start_training
from models.training.segmenter_batches import segmenter_batch
from models.training.segmenter_volumes import (
    VolumeSet,
    build_volume_set,
    volume_on_grid,
    volume_set_of,
)

__all__ = [
    "SegmenterConfig",
    "VolumeSet",
    "build_volume_set",
    "seconds_per_step",
    "segmenter_config_of",
    "train_segmenter",
    "volume_on_grid",
    "volume_set_of",
    "whole_tumour_dice",
]


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
        x, y = segmenter_batch(
            train, rng.integers(0, len(train), config.batch_size), rng, config, gen
        )
        loss = loss_fn(net(x), y)
        optimise(optimiser, loss)
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
    start_training(config.threads, config.seed)
    net = build_segmentation_net(config.channels)
    if initial is not None:
        net.load_state_dict(initial)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-5)
    steps_per_epoch = int(np.ceil(len(train) / config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.1
    )
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    state = TrainingState(
        {"model": net}, optimiser, scheduler, asdict(config), work_dir / "checkpoint.pt"
    )
    state.begin(resume=resume, device=device)
    for epoch in state.epochs(config.epochs, config.seed):
        net.train()
        order = epoch.rng.permutation(len(train))
        steps = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        total = 0.0
        desc = f"segmenter epoch {epoch.index + 1}/{config.epochs}"
        bar = tqdm(steps, desc=desc, disable=not progress)
        for step in bar:
            x, y = segmenter_batch(train, step, epoch.rng, config, epoch.gen)
            loss = loss_fn(net(x), y)
            optimise(optimiser, loss)
            scheduler.step()
            total += float(loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        record: dict[str, Any] = {
            "epoch": epoch.index + 1,
            "loss": total / max(1, len(steps)),
            "seconds": epoch.seconds(),
        }
        if valid is not None:
            net.eval()
            record["valid_dice_whole_tumour"] = whole_tumour_dice(net, valid)
        state.end_epoch(record, "segmenter")
    net.to("cpu").eval()
    return net, state.history
