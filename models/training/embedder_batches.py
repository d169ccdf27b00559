"""The embedder's training batches and their loss: balanced diagnoses, one or two
randomised views of every crop, the triplet, proxy, instance and attribute terms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from models.networks.embedding_net import EmbeddingNet
from models.training.augment import augment_crops, randomised_views
from models.training.crops import CropSet
from models.training.embedder_config import EmbedderConfig

__all__ = ["balanced_batches", "batch_loss", "crop_contexts"]


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


def crop_contexts(
    train: CropSet, batch: np.ndarray, rng: np.random.Generator, segmented: float
) -> np.ndarray:
    """Each crop's context planes: its case's, or with ``segmented`` those of its segmentation."""
    cases = train.case_index[batch]
    use_query = rng.random(len(batch)) < segmented
    chosen: np.ndarray = np.where(
        use_query[:, None, None, None], train.query_context[cases], train.context[cases]
    )
    return chosen


def batch_loss(
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
    planes = crop_contexts(train, batch, rng, config.segmented_context)
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
