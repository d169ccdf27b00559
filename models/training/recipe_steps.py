"""The steps of a training recipe from a generator: generate (within a deadline),
collect, size the epochs to a time budget, train the segmenter, score it, say what
trained and fingerprint what the embedder saw."""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dicom_conversion import Diagnosis
from models.training.crops import CropSet, crop_set_of
from models.training.segmenter_training import (
    SegmenterConfig,
    VolumeSet,
    train_segmenter,
    volume_set_of,
    whole_tumour_dice,
)
from models.training.segmenter_training import (
    seconds_per_step as seg_seconds_per_step,
)
from models.training.synthetic_source import SyntheticCaseData, synthetic_cases

__all__ = [
    "collect",
    "crops_digest",
    "dice_by_source",
    "epochs_for",
    "generate",
    "hardware",
    "train_segmenter_within",
]

logger = logging.getLogger(__name__)


def hardware(device: str) -> str:
    """What trained: the GPU's name, or the CPU and its thread count."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (torch {torch.__version__})"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def collect(
    source: list[SyntheticCaseData],
) -> tuple[CropSet, VolumeSet, list[str], list[str]]:
    """Generated cases as the trainers take them: crops, volumes, diagnoses, patients."""
    crops = crop_set_of(
        ((c.crops, c.diagnosis, c.patient_id) for c in source if c.crops is not None),
        Diagnosis.labels(),
    )
    volumes = volume_set_of(c.volume for c in source if c.volume is not None)
    return crops, volumes, [c.diagnosis for c in source], [c.patient_id for c in source]


def generate(
    seed: int,
    count: int,
    deadline: float | None,
    **options: Any,
) -> list[SyntheticCaseData]:
    """Cases 0.. of a corpus, stopping at ``count`` or at ``deadline`` (perf_counter)."""
    out: list[SyntheticCaseData] = []
    source = synthetic_cases(seed, count, **options)
    try:
        for case in source:
            out.append(case)
            if deadline is not None and time.perf_counter() > deadline:
                break
    finally:
        source.close()  # stops the worker pool
    return out


def crops_digest(crops: CropSet) -> str:
    """sha256 of what the embedder trained on (crops, label maps, labels, context)."""
    h = hashlib.sha256()
    for array in (crops.crops, crops.tissue, crops.labels, crops.context, crops.targets):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def epochs_for(budget: float | None, step_seconds: float, steps: int, default: int) -> int:
    if budget is None:
        return default
    return max(1, int(budget / max(step_seconds * steps, 1e-6)))


def dice_by_source(
    net: torch.nn.Module, valid: dict[str, VolumeSet], device: str
) -> dict[str, float]:
    """Whole-tumour Dice of ``net`` on each named validation set (``net`` ends on the CPU)."""
    net.to(device).eval()
    scores = {name: whole_tumour_dice(net, volumes) for name, volumes in valid.items()}
    net.to("cpu")
    return scores


def train_segmenter_within(
    volumes: VolumeSet,
    config: SegmenterConfig,
    out_dir: Path,
    *,
    seconds: float | None,
    device: str,
    progress: bool,
    initial: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.nn.Module, SegmenterConfig, list[dict[str, Any]]]:
    """Train (or, from ``initial``, fine-tune) the segmenter for as many epochs as a
    measured step time fits into ``seconds`` (None: ``config.epochs``); writes
    ``segmenter.pt`` into ``out_dir`` and returns the network, the configuration used and
    the history."""
    step = seg_seconds_per_step(volumes, config, device)
    steps = -(-len(volumes) // config.batch_size)
    config = replace(config, epochs=epochs_for(seconds, step, steps, config.epochs))
    logger.info("segmenter %.3f s/step, %d epochs", step, config.epochs)
    net, history = train_segmenter(
        volumes,
        config,
        out_dir / "segmenter-work",
        resume=False,
        progress=progress,
        device=device,
        initial=initial,
    )
    torch.save(net.state_dict(), out_dir / "segmenter.pt")
    return net, config, history
