"""The training-loop scaffolding both trainers share: epoch streams and resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from models.errors import TrainingDataError
from models.training.loop import Epoch, TrainingState, optimise, start_training


def _state(path: Path, config: dict[str, object], with_head: bool = True) -> TrainingState:
    start_training(1, 3)
    net = nn.Linear(4, 2)
    head = nn.Linear(2, 1) if with_head else None
    parameters = list(net.parameters()) + (list(head.parameters()) if head else [])
    optimiser = torch.optim.AdamW(parameters, lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=4)
    return TrainingState({"model": net, "head": head}, optimiser, scheduler, dict(config), path)


def _run(state: TrainingState, epochs: int, *, resume: bool = False) -> None:
    """A toy loop as the trainers write theirs."""
    net = state.modules["model"]
    assert net is not None
    state.begin(resume=resume, device="cpu")
    for epoch in state.epochs(epochs, 5):
        x = torch.randn(8, 4, generator=epoch.gen)
        loss = net(x).pow(2).mean() + float(epoch.rng.random())
        optimise(state.optimiser, loss)
        state.scheduler.step()
        state.end_epoch({"epoch": epoch.index + 1, "loss": float(loss.item())}, "toy")


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    straight = _state(tmp_path / "straight.pt", {"lr": 0.1})
    _run(straight, 4)

    first = _state(tmp_path / "stopped.pt", {"lr": 0.1})
    _run(first, 2)
    resumed = _state(tmp_path / "stopped.pt", {"lr": 0.1})
    resumed.resume()
    assert resumed.epoch == 2
    assert resumed.history == first.history
    _run(resumed, 4)

    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    for name in ("model", "head"):
        a, b = straight.modules[name], resumed.modules[name]
        assert a is not None and b is not None
        for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert torch.equal(x, y), (name, key)
    assert resumed.scheduler.state_dict() == straight.scheduler.state_dict()


def test_no_checkpoint_leaves_the_state_at_its_start(tmp_path: Path) -> None:
    state = _state(tmp_path / "none.pt", {"lr": 0.1})
    state.resume()
    assert state.epoch == 0
    assert state.history == []
    assert len(list(state.epochs(3, 0))) == 3


def test_a_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    _run(_state(tmp_path / "c.pt", {"lr": 0.1}), 1)
    with pytest.raises(TrainingDataError, match="other settings"):
        _state(tmp_path / "c.pt", {"lr": 0.2}).begin(resume=True, device="cpu")


def test_an_unused_module_is_kept_as_none(tmp_path: Path) -> None:
    state = _state(tmp_path / "c.pt", {"lr": 0.1}, with_head=False)
    _run(state, 1)
    saved = torch.load(tmp_path / "c.pt", weights_only=False)
    assert saved["head"] is None
    assert saved["epoch"] == 1
    assert set(saved) == {"epoch", "model", "head", "optimiser", "scheduler", "history", "config"}


def test_epoch_streams_depend_on_seed_and_epoch_only() -> None:
    a, b, c = Epoch.start(1, 2, "cpu"), Epoch.start(1, 2, "cpu"), Epoch.start(1, 3, "cpu")
    assert a.rng.random() == b.rng.random() != c.rng.random()
    assert torch.equal(torch.rand(3, generator=a.gen), torch.rand(3, generator=b.gen))
    assert a.seconds() >= 0.0


def test_resume_false_starts_afresh_beside_a_checkpoint(tmp_path: Path) -> None:
    _run(_state(tmp_path / "c.pt", {"lr": 0.1}), 2)
    again = _state(tmp_path / "c.pt", {"lr": 0.1})
    _run(again, 2, resume=False)
    assert [r["epoch"] for r in again.history] == [1, 2]
    resumed = _state(tmp_path / "c.pt", {"lr": 0.1})
    resumed.begin(resume=True, device="cpu")
    assert resumed.epoch == 2
    assert list(resumed.epochs(2, 5)) == []
