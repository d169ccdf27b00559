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
from models.segmenter import resample_channels, segmenter_grid_shape
from models.study_arrays import StudyLike, normalised_channels, voxel_spacing
from models.training.augment import sequence_dropout
from models.training.checkpoints import (
    load_checkpoint,
    optimiser_to,
    save_checkpoint,
    seed_everything,
)

__all__ = ["SegmenterConfig", "VolumeSet", "build_volume_set", "train_segmenter"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmenterConfig:
    """Hyper-parameters of segmenter training (all recorded in the model card)."""

    epochs: int = 3
    seed: int = 0
    patch: int = 48
    batch_size: int = 2
    lr: float = 3e-3
    tumour_fraction: float = 0.7
    sequence_dropout: float = 0.3
    channels: tuple[int, ...] = (8, 16, 32, 64)
    threads: int = 2


@dataclass
class VolumeSet:
    """Training volumes on the segmenter grid, cropped to the brain.

    Attributes:
        images: per case float16 ``[4, x, y, z]``.
        labels: per case uint8 ``[x, y, z]`` BraTS labels.
    """

    images: list[np.ndarray]
    labels: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)


def _to_grid(study: StudyLike, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    channels = normalised_channels(study)
    grid = segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    image = resample_channels(channels, grid)
    label = functional.interpolate(
        torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None], size=grid, mode="nearest"
    )[0, 0].numpy()
    brain = np.argwhere(np.any(image != 0, axis=0) | (label > 0))
    lo, hi = brain.min(axis=0), brain.max(axis=0) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    return image[(slice(None), *box)].astype(np.float16), label[box].astype(np.uint8)


def build_volume_set(cases: Iterable[tuple[StudyLike, np.ndarray]]) -> VolumeSet:
    """Resample ``(study, mask)`` cases to the segmenter grid."""
    images, labels = [], []
    for study, mask in cases:
        image, label = _to_grid(study, mask)
        images.append(image)
        labels.append(label)
    if not images:
        raise TrainingDataError("no training case")
    return VolumeSet(images=images, labels=labels)


def _patch(
    image: np.ndarray,
    label: np.ndarray,
    size: int,
    rng: np.random.Generator,
    tumour_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    shape = np.asarray(label.shape)
    padded = np.maximum(shape, size)
    if np.any(padded > shape):
        pad = [(0, int(p - s)) for p, s in zip(padded, shape, strict=True)]
        image = np.pad(image, [(0, 0), *pad])
        label = np.pad(label, pad)
    tumour = np.argwhere(label > 0)
    if len(tumour) and rng.random() < tumour_fraction:
        centre = tumour[rng.integers(len(tumour))]
    else:
        centre = np.asarray([rng.integers(0, n) for n in label.shape])
    lo = np.clip(centre - size // 2, 0, np.asarray(label.shape) - size)
    box = tuple(slice(int(a), int(a) + size) for a in lo)
    out_image = image[(slice(None), *box)].astype(np.float32)
    out_label = label[box]
    if rng.random() < 0.5:
        out_image, out_label = out_image[:, ::-1], out_label[::-1]
    return np.ascontiguousarray(out_image), np.ascontiguousarray(out_label)


def train_segmenter(
    train: VolumeSet,
    config: SegmenterConfig,
    work_dir: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    device: str = "cpu",
) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Train the segmenter on random patches (most centred on tumour voxels).

    One epoch draws ``len(train)`` patches. ``checkpoint.pt`` in ``work_dir`` is
    written after every epoch and resumed from when ``resume`` is true.
    """
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    net = build_segmentation_net(config.channels)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, config.epochs))
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
        order = rng.permutation(len(train))
        steps = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        total = 0.0
        desc = f"segmenter epoch {epoch + 1}/{config.epochs}"
        bar = tqdm(steps, desc=desc, disable=not progress)
        for step in bar:
            pairs = [
                _patch(train.images[i], train.labels[i], config.patch, rng, config.tumour_fraction)
                for i in step
            ]
            images = np.stack([p[0] for p in pairs])
            sequence_dropout(images, rng, config.sequence_dropout)
            x = torch.from_numpy(images).to(device)
            y = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))[:, None]
            y = y.to(device)
            loss = loss_fn(net(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.item())
            bar.set_postfix(loss=f"{loss.item():.4f}")
        scheduler.step()
        record = {
            "epoch": epoch + 1,
            "loss": total / max(1, len(steps)),
            "seconds": time.perf_counter() - began,
        }
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
