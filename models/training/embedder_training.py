"""Triplet-loss training of the embedding network (pytorch-metric-learning)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pytorch_metric_learning import losses, miners
from torch.nn import functional
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from models.context import CONTEXT_CHANNELS
from models.errors import TrainingDataError
from models.networks.embedding_net import EmbeddingNet
from models.training.augment import augment_crops, randomised_views
from models.training.checkpoints import (
    load_checkpoint,
    optimiser_to,
    save_checkpoint,
    seed_everything,
)
from models.training.crops import CropSet

__all__ = ["EmbedderConfig", "balanced_batches", "seconds_per_step", "train_embedder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedderConfig:
    """Hyper-parameters of embedder training (all recorded in the model card)."""

    epochs: int = 20
    seed: int = 0
    per_class: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    margin: float = 0.2
    miner: str = "semihard"
    sequence_dropout: float = 0.5
    widths: tuple[int, int, int, int] = (16, 32, 64, 128)
    dim: int = 128
    threads: int = 2
    #: Give the network the whole-brain context planes (:mod:`models.context`).
    context: bool = True
    context_dropout: float = 0.1
    #: Turn training crops by random multiples of 90 degrees (not the context planes).
    #: Off: valid3 0.9405 with it, 0.9524 without (hard-enriched data, 40 epochs).
    rotate_crops: bool = False
    #: Probability that a crop gets the context planes of the segmenter's mask instead
    #: of the given one (needs a crop set built with a segmenter).
    segmented_context: float = 0.5
    context_widths: tuple[int, int, int, int] = (8, 16, 32, 64)
    #: Weight of an auxiliary normalised-softmax (proxy) loss beside the triplet loss (0: off).
    softmax_weight: float = 0.5
    softmax_temperature: float = 0.05
    #: Decay of an exponential moving average of the weights, which is what ships (0: off).
    ema_decay: float = 0.995
    #: Average each crop's vector with its mirror image's at inference (in the ONNX graph).
    #: Off: on valid3 it helped the rotation-trained candidate (+0.010) and hurt the
    #: shipped one (-0.008), i.e. within chance, at twice the inference cost.
    flip_average: bool = False
    #: Render this share of training crops anew from their label maps with random
    #: contrast, texture, bias, blur and noise (0: the generator's images only).
    randomised_share: float = 0.7
    #: Weight of an instance term (NT-Xent over two views of every crop, positives = the
    #: same patient): the renderer must not matter, the lesion must; cases of one
    #: diagnosis stay apart instead of collapsing onto one point (0: off, one view).
    instance_weight: float = 0.5
    instance_temperature: float = 0.1
    #: Weight of a linear read-out of the tumour's attributes (size, compartments,
    #: lesion count, position; :data:`models.training.crops.ATTRIBUTES`) from the vector.
    attribute_weight: float = 0.3

    def network(self) -> EmbeddingNet:
        """A fresh network of this configuration's architecture."""
        return EmbeddingNet(
            dim=self.dim,
            widths=self.widths,
            context_channels=CONTEXT_CHANNELS if self.context else 0,
            context_widths=self.context_widths,
            flip_average=self.flip_average,
        )


def balanced_batches(
    labels: np.ndarray, per_class: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """One epoch of batches with ``per_class`` items of every class each."""
    classes = np.unique(labels)
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    n_batches = max(1, int(np.ceil(len(labels) / (per_class * len(classes)))))
    cursors = [0] * len(classes)
    for _ in range(n_batches):
        batch = []
        for index, pool in enumerate(pools):
            take = [pool[(cursors[index] + j) % len(pool)] for j in range(per_class)]
            cursors[index] += per_class
            batch += take
        yield np.asarray(batch, dtype=np.int64)


def _contexts(
    train: CropSet, batch: np.ndarray, rng: np.random.Generator, segmented: float
) -> np.ndarray:
    """Each crop's context planes: its case's, or with ``segmented`` those of its segmentation."""
    cases = train.case_index[batch]
    use_query = rng.random(len(batch)) < segmented
    chosen: np.ndarray = np.where(
        use_query[:, None, None, None], train.query_context[cases], train.context[cases]
    )
    return chosen


def _shipped(net: EmbeddingNet, average: AveragedModel | None) -> EmbeddingNet:
    """The network that is evaluated and shipped: the weight average when there is one."""
    if average is None:
        return net
    module = average.module.eval()
    assert isinstance(module, EmbeddingNet)
    return module


def _batch_loss(
    net: EmbeddingNet,
    train: CropSet,
    batch: np.ndarray,
    config: EmbedderConfig,
    rng: np.random.Generator,
    gen: torch.Generator,
    *,
    miner: Any,
    loss_fn: Any,
    proxy_loss: Any,
    instance_loss: Any,
    attribute_head: torch.nn.Linear | None,
    target_scale: tuple[np.ndarray, np.ndarray],
) -> tuple[torch.Tensor, int]:
    """The loss of one batch: diagnosis (triplet + proxy), instance and attribute terms."""
    device = gen.device
    cases = train.case_index[batch]
    planes = _contexts(train, batch, rng, config.segmented_context)
    flips = rng.random(len(batch)) < 0.5
    views = 2 if config.instance_weight > 0 else 1
    inputs, contexts = [], []
    for _ in range(views):
        if config.randomised_share > 0:
            x, context = randomised_views(
                train.crops[batch],
                train.tissue[batch],
                planes,
                train.shares[cases],
                rng,
                gen,
                flips=flips,
                real_share=1.0 - config.randomised_share,
                dropout=config.sequence_dropout,
                context_dropout=config.context_dropout,
                rotate=config.rotate_crops,
            )
        else:
            crops, flat = augment_crops(
                train.crops[batch],
                planes,
                rng,
                dropout=config.sequence_dropout,
                context_dropout=config.context_dropout,
                rotate=config.rotate_crops,
            )
            x, context = torch.from_numpy(crops).to(device), torch.from_numpy(flat).to(device)
        inputs.append(x)
        contexts.append(context)
    embeddings = net(torch.cat(inputs), torch.cat(contexts) if config.context else None)
    y = torch.from_numpy(np.tile(train.labels[batch], views)).to(device)
    mined = miner(embeddings, y)
    loss = loss_fn(embeddings, y, mined)
    if proxy_loss is not None:
        loss = loss + config.softmax_weight * proxy_loss(embeddings, y)
    if config.instance_weight > 0:
        instance = torch.from_numpy(np.tile(train.instance[cases], views)).to(device)
        loss = loss + config.instance_weight * instance_loss(embeddings, instance)
    if attribute_head is not None:
        mean, std = target_scale
        targets = (train.targets[cases] - mean) / std
        # "x_offset" (index 6) is the left-right position: a mirrored crop mirrors it.
        targets[:, 6] = np.where(flips, -targets[:, 6] - 2 * mean[6] / std[6], targets[:, 6])
        wanted = torch.from_numpy(np.tile(targets, (views, 1)).astype(np.float32)).to(device)
        loss = loss + config.attribute_weight * functional.mse_loss(
            attribute_head(embeddings), wanted
        )
    return loss, int(mined[0].numel())


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
        loss, _ = _batch_loss(
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
        optimiser.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
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
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    net = config.network()
    if initial is not None:
        net.load_state_dict(initial)
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
    target_mean = train.targets.mean(axis=0)
    target_std = train.targets.std(axis=0) + 1e-3
    if config.attribute_weight > 0:
        attribute_head = torch.nn.Linear(config.dim, train.targets.shape[1])
        parameters += list(attribute_head.parameters())
    instance_loss = losses.NTXentLoss(temperature=config.instance_temperature)
    optimiser = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, config.epochs))
    loss_fn = losses.TripletMarginLoss(margin=config.margin)
    if config.miner == "distance":
        miner: Any = miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    else:
        miner = miners.TripletMarginMiner(margin=config.margin, type_of_triplets=config.miner)

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
        if proxy_loss is not None:
            proxy_loss.load_state_dict(state["proxy_loss"])
        if attribute_head is not None:
            attribute_head.load_state_dict(state["attribute_head"])
        if average is not None:
            average.load_state_dict(state["average"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        start = int(state["epoch"])
        history = list(state["history"])
    for module in (net, proxy_loss, average, attribute_head):
        if module is not None:
            module.to(device)
    optimiser_to(optimiser, device)

    for epoch in range(start, config.epochs):
        began = time.perf_counter()
        rng = np.random.default_rng([config.seed, epoch])
        torch.manual_seed(config.seed * 1000 + epoch)
        net.train()
        batches = list(balanced_batches(train.labels, config.per_class, rng))
        total, triplets = 0.0, 0
        bar = tqdm(
            batches, desc=f"embedder epoch {epoch + 1}/{config.epochs}", disable=not progress
        )
        gen = torch.Generator(device=device).manual_seed(config.seed * 1000 + epoch)
        for batch in bar:
            loss, n_triplets = _batch_loss(
                net,
                train,
                batch,
                config,
                rng,
                gen,
                miner=miner,
                loss_fn=loss_fn,
                proxy_loss=proxy_loss,
                instance_loss=instance_loss,
                attribute_head=attribute_head,
                target_scale=(target_mean, target_std),
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            if average is not None:
                average.update_parameters(net)
            total += float(loss.item())
            triplets += n_triplets
            bar.set_postfix(loss=f"{loss.item():.4f}")
        scheduler.step()
        net.eval()
        shipped = _shipped(net, average)
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "loss": total / len(batches),
            "triplets_per_batch": triplets / len(batches),
            "seconds": time.perf_counter() - began,
        }
        if on_epoch is not None:
            record.update(on_epoch(epoch + 1, shipped, record))
        history.append(record)
        logger.info("embedder epoch %d: %s", epoch + 1, record)
        save_checkpoint(
            checkpoint_path,
            {
                "epoch": epoch + 1,
                "model": net.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(),
                "proxy_loss": None if proxy_loss is None else proxy_loss.state_dict(),
                "attribute_head": None if attribute_head is None else attribute_head.state_dict(),
                "average": None if average is None else average.state_dict(),
                "history": history,
                "config": asdict(config),
            },
        )
    shipped = _shipped(net, average)
    shipped.to("cpu").eval()
    return shipped, history
