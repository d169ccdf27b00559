"""Triplet-loss training of the embedding network (pytorch-metric-learning).

The configuration (:mod:`~models.training.embedder_config`) and the batches with their
loss (:mod:`~models.training.embedder_batches`) live beside this module; the epoch
loop's seeds and checkpoint are :mod:`models.training.loop`'s, shared with the segmenter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_metric_learning import losses, miners
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from models.errors import TrainingDataError
from models.networks.embedding_net import EmbeddingNet
from models.training.crops import CropSet
from models.training.embedder_batches import balanced_batches, batch_loss
from models.training.embedder_config import EmbedderConfig
from models.training.loop import Epoch, TrainingState, optimise, start_training

__all__ = ["EmbedderConfig", "balanced_batches", "seconds_per_step", "train_embedder"]


def _shipped(net: EmbeddingNet, average: AveragedModel | None) -> EmbeddingNet:
    """The network that is evaluated and shipped: the weight average when there is one."""
    if average is None:
        return net
    module = average.module.eval()
    assert isinstance(module, EmbeddingNet)
    return module


def seconds_per_step(
    train: CropSet, config: EmbedderConfig, device: str = "cpu", steps: int = 5
) -> float:
    """Measured seconds of one training step on ``device`` with a scratch network."""
    net = config.network().to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr)
    rng = np.random.default_rng(0)
    gen = torch.Generator(device=device).manual_seed(0)
    miner = miners.TripletMarginMiner(margin=config.margin, type_of_triplets=config.miner)
    head = torch.nn.Linear(config.dim, train.targets.shape[1]).to(device)
    scale = (train.targets.mean(axis=0), train.targets.std(axis=0) + 1e-3)
    batches = balanced_batches(train.labels, config.per_class, rng)
    times = []
    for _, batch in zip(range(steps + 1), batches, strict=False):
        began = time.perf_counter()
        loss, _ = batch_loss(
            net,
            train,
            batch,
            config,
            rng,
            gen,
            miner=miner,
            loss_fn=losses.TripletMarginLoss(margin=config.margin),
            proxy_loss=None,
            instance_loss=losses.NTXentLoss(temperature=config.instance_temperature),
            attribute_head=head,
            target_scale=scale,
        )
        optimise(optimiser, loss)
        float(loss.item())
        times.append(time.perf_counter() - began)
    return float(np.median(times[1:])) if len(times) > 1 else float(times[0])


def train_embedder(
    train: CropSet,
    config: EmbedderConfig,
    work_dir: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    on_epoch: Callable[[int, EmbeddingNet, dict[str, float]], dict[str, float]] | None = None,
    device: str = "cpu",
    initial: dict[str, Any] | None = None,
) -> tuple[EmbeddingNet, list[dict[str, Any]]]:
    """Train the embedder with a triplet margin loss and a triplet miner.

    Args:
        train: training crops (several per case, labelled by diagnosis).
        config: hyper-parameters and seed.
        work_dir: ``checkpoint.pt`` is written there after every epoch.
        resume: continue from ``checkpoint.pt`` if it exists.
        progress: show a progress bar.
        on_epoch: called after each epoch with the network in eval mode; returns
            extra numbers (e.g. validation mAP@R) to log.
        device: ``"cpu"`` or ``"cuda"``; the returned network is on the CPU.
        initial: a state dict of the same architecture to start from (fine-tuning).

    Returns:
        The trained network (eval mode) and the per-epoch history.
    """
    if len(np.unique(train.labels)) < 2:
        raise TrainingDataError("triplet training needs at least two diagnoses")
    start_training(config.threads, config.seed)
    net = config.network()
    if initial is not None:
        net.load_state_dict(initial)
    parts = _Parts.build(net, train, config)
    state = TrainingState(
        {
            "model": net,
            "proxy_loss": parts.proxy_loss,
            "attribute_head": parts.attribute_head,
            "average": parts.average,
        },
        parts.optimiser,
        parts.scheduler,
        asdict(config),
        work_dir / "checkpoint.pt",
    )
    state.begin(resume=resume, device=device)
    for epoch in state.epochs(config.epochs, config.seed):
        net.train()
        record = _train_epoch(net, train, config, parts, epoch, progress)
        net.eval()
        shipped = _shipped(net, parts.average)
        if on_epoch is not None:
            record.update(on_epoch(epoch.index + 1, shipped, record))
        state.end_epoch(record, "embedder")
    shipped = _shipped(net, parts.average)
    shipped.to("cpu").eval()
    return shipped, state.history


@dataclass
class _Parts:
    """What trains beside the network: the losses, their heads, the weight average,
    the optimiser over all their parameters and its schedule."""

    proxy_loss: losses.NormalizedSoftmaxLoss | None
    attribute_head: torch.nn.Linear | None
    average: AveragedModel | None
    instance_loss: Any
    loss_fn: Any
    miner: Any
    target_scale: tuple[np.ndarray, np.ndarray]
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler

    @classmethod
    def build(cls, net: EmbeddingNet, train: CropSet, config: EmbedderConfig) -> _Parts:
        parameters = list(net.parameters())
        proxy_loss: losses.NormalizedSoftmaxLoss | None = None
        if config.softmax_weight > 0:
            proxy_loss = losses.NormalizedSoftmaxLoss(
                num_classes=len(train.classes),
                embedding_size=config.dim,
                temperature=config.softmax_temperature,
            )
            parameters += list(proxy_loss.parameters())
        average: AveragedModel | None = None
        if config.ema_decay > 0:
            average = AveragedModel(
                net,
                multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay),  # type: ignore[no-untyped-call]
                use_buffers=True,
            )
        attribute_head: torch.nn.Linear | None = None
        target_scale = (train.targets.mean(axis=0), train.targets.std(axis=0) + 1e-3)
        if config.attribute_weight > 0:
            attribute_head = torch.nn.Linear(config.dim, train.targets.shape[1])
            parameters += list(attribute_head.parameters())
        instance_loss = losses.NTXentLoss(temperature=config.instance_temperature)
        optimiser = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimiser, T_max=max(1, config.epochs)
        )
        loss_fn = losses.TripletMarginLoss(margin=config.margin)
        if config.miner == "distance":
            miner: Any = miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
        else:
            miner = miners.TripletMarginMiner(margin=config.margin, type_of_triplets=config.miner)
        return cls(
            proxy_loss=proxy_loss,
            attribute_head=attribute_head,
            average=average,
            instance_loss=instance_loss,
            loss_fn=loss_fn,
            miner=miner,
            target_scale=target_scale,
            optimiser=optimiser,
            scheduler=scheduler,
        )


def _train_epoch(
    net: EmbeddingNet,
    train: CropSet,
    config: EmbedderConfig,
    parts: _Parts,
    epoch: Epoch,
    progress: bool,
) -> dict[str, Any]:
    """One epoch of balanced batches; its record (loss, triplets per batch, seconds)."""
    batches = list(balanced_batches(train.labels, config.per_class, epoch.rng))
    total, triplets = 0.0, 0
    desc = f"embedder epoch {epoch.index + 1}/{config.epochs}"
    bar = tqdm(batches, desc=desc, disable=not progress)
    for batch in bar:
        loss, n_triplets = batch_loss(
            net,
            train,
            batch,
            config,
            epoch.rng,
            epoch.gen,
            miner=parts.miner,
            loss_fn=parts.loss_fn,
            proxy_loss=parts.proxy_loss,
            instance_loss=parts.instance_loss,
            attribute_head=parts.attribute_head,
            target_scale=parts.target_scale,
        )
        optimise(parts.optimiser, loss)
        if parts.average is not None:
            parts.average.update_parameters(net)
        total += float(loss.item())
        triplets += n_triplets
        bar.set_postfix(loss=f"{loss.item():.4f}")
    parts.scheduler.step()
    return {
        "epoch": epoch.index + 1,
        "loss": total / len(batches),
        "triplets_per_batch": triplets / len(batches),
        "seconds": epoch.seconds(),
    }
