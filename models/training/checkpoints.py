"""Resumable training checkpoints and determinism helpers."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["load_checkpoint", "optimiser_to", "save_checkpoint", "seed_everything"]

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (MONAI's ``set_determinism`` idea, CPU-only)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or ``None`` when there is none."""
    if not path.is_file():
        return None
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    logger.info("resuming from %s (epoch %s done)", path, state.get("epoch"))
    return state


def optimiser_to(optimiser: torch.optim.Optimizer, device: str) -> None:
    """Move an optimiser's state tensors (e.g. Adam moments) to ``device``."""
    for state in optimiser.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                state[key] = value.to(device)
