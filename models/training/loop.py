"""What the segmenter and the embedder training loops share: the start (threads and
seeds), each epoch's random streams, one optimiser step, and the resumable state that
``checkpoint.pt`` keeps after every epoch (modules, optimiser, schedule, history).

Each loop keeps what is its own (batches, losses, what an epoch records); this module
keeps the order in which seeds are drawn and the checkpoint's keys, so a run resumed
from its checkpoint ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.errors import TrainingDataError
from models.training.checkpoints import (
    load_checkpoint,
    optimiser_to,
    save_checkpoint,
    seed_everything,
)

__all__ = ["Epoch", "TrainingState", "optimise", "start_training"]

logger = logging.getLogger(__name__)


def start_training(threads: int, seed: int) -> None:
    """Torch's thread count and every seed, before the network is built."""
    torch.set_num_threads(threads)
    seed_everything(seed)


def optimise(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One step: gradients cleared, back-propagated, applied."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]
    optimiser.step()


@dataclass(frozen=True)
class Epoch:
    """One epoch's number (from 0) and its random streams, drawn from the seed and the
    epoch alone so that a resumed run draws what an uninterrupted one would.

    Attributes:
        index: the epoch, counted from 0 (records count from 1).
        rng: numpy's stream (batches, crops, augmentation choices).
        gen: torch's stream on the training device (augmentation, rendering).
        began: ``time.perf_counter()`` when the epoch started.
    """

    index: int
    rng: np.random.Generator
    gen: torch.Generator
    began: float

    @classmethod
    def start(cls, seed: int, index: int, device: str) -> Epoch:
        began = time.perf_counter()
        rng = np.random.default_rng([seed, index])
        torch.manual_seed(seed * 1000 + index)
        gen = torch.Generator(device=device).manual_seed(seed * 1000 + index)
        return cls(index=index, rng=rng, gen=gen, began=began)

    def seconds(self) -> float:
        """Seconds since the epoch started."""
        return time.perf_counter() - self.began


@dataclass
class TrainingState:
    """What ``checkpoint.pt`` keeps: the modules by name (``None``: not used by this
    configuration, kept as ``None``), the optimiser, its schedule, the configuration it
    was made with, the epochs done and their records.

    Args:
        modules: checkpoint key -> module; ``"model"`` is the network.
        optimiser: the optimiser over the modules' parameters.
        scheduler: its learning-rate schedule.
        config: the configuration as ``dataclasses.asdict`` gives it; a checkpoint made
            with another one is refused.
        path: the checkpoint file, written after every epoch.
    """

    modules: dict[str, nn.Module | None]
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    config: dict[str, Any]
    path: Path
    #: Epochs done.
    epoch: int = 0
    #: One record per epoch done.
    history: list[dict[str, Any]] = field(default_factory=list)
    #: Where the modules train (set by :meth:`begin`).
    device: str = "cpu"

    def begin(self, *, resume: bool, device: str) -> None:
        """Resume from the checkpoint when ``resume`` (and there is one), then move the
        modules and the optimiser's state to ``device``."""
        if resume:
            self.resume()
        self.to(device)

    def epochs(self, total: int, seed: int) -> Iterator[Epoch]:
        """The epochs still to train of ``total``, each with its random streams."""
        for index in range(self.epoch, total):
            yield Epoch.start(seed, index, self.device)

    def resume(self) -> None:
        """Take the state of the checkpoint, if there is one.

        Raises:
            TrainingDataError: the checkpoint was made with another configuration.
        """
        state = load_checkpoint(self.path)
        if state is None:
            return
        if state.get("config") != self.config:
            raise TrainingDataError(
                f"{self.path} was made with other settings; remove it or use --no-resume"
            )
        for name, module in self.modules.items():
            if module is not None:
                module.load_state_dict(state[name])
        self.optimiser.load_state_dict(state["optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])

    def to(self, device: str) -> None:
        """Move the modules and the optimiser's state to ``device``."""
        self.device = device
        for module in self.modules.values():
            if module is not None:
                module.to(device)
        optimiser_to(self.optimiser, device)

    def end_epoch(self, record: dict[str, Any], what: str) -> None:
        """Keep an epoch's record (``record["epoch"]`` counts from 1), log it as
        ``what``'s and write the checkpoint."""
        self.history.append(record)
        self.epoch = int(record["epoch"])
        logger.info("%s epoch %d: %s", what, self.epoch, record)
        save_checkpoint(self.path, self.checkpoint())

    def checkpoint(self) -> dict[str, Any]:
        """The state as ``checkpoint.pt`` holds it."""
        modules = {
            name: None if module is None else module.state_dict()
            for name, module in self.modules.items()
        }
        return {
            "epoch": self.epoch,
            **modules,
            "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
            "config": self.config,
        }
