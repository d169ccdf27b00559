"""Loading the ONNX networks: their weights checked against their model card, and
onnxruntime sessions on the CPU with a fixed number of threads.

:func:`onnx_weights` is the one load path of ``OnnxSegmenter.load`` and
``OnnxEmbedder.load`` (:func:`torch_weights` of the two eager ``load``); :func:`cpu_session`
opens what it found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.errors import WeightsNotFoundError
from models.registry import ModelCard, load_card, resolve_model_dir

__all__ = ["cpu_session", "onnx_weights", "torch_weights"]


def onnx_weights(model_dir: Path | None, name: str) -> tuple[Path, str]:
    """``<name>.onnx`` in ``model_dir`` (None: the shipped weights) and its model version.

    Raises:
        WeightsNotFoundError: no weights or card there.
        ChecksumMismatchError: the weights differ from their card.
    """
    directory = resolve_model_dir(model_dir)
    card = load_card(directory, name)
    return directory / f"{name}.onnx", card.model_version


def torch_weights(model_dir: Path | None, name: str) -> tuple[Path, ModelCard]:
    """``<name>.pt`` in ``model_dir`` (None: the shipped weights) and its card.

    Raises:
        WeightsNotFoundError: no card there, or no torch weights beside it.
        ChecksumMismatchError: the ONNX weights differ from their card.
    """
    directory = resolve_model_dir(model_dir)
    card = load_card(directory, name)
    path = directory / f"{name}.pt"
    if not path.is_file():
        raise WeightsNotFoundError(f"no torch weights {path}")
    return path, card


def cpu_session(onnx_path: Path, threads: int = 0, *, spinning: bool = False) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU provider.

    Args:
        onnx_path: the ``.onnx`` file.
        threads: intra-op threads (0: onnxruntime's default); inter-op is always 1,
            as the networks are a single chain of operators.
        spinning: whether the intra-op threads busy-wait for work between and after
            runs (onnxruntime's default). Off here: on the few cores a worker shares with
            the listener, the API and PostgreSQL, and with the numpy work that follows
            each run, the spinning threads took the cores that work needed (segment +
            embed of a 1 mm study 0.82 x the wall time without it at load 6,
            docs/benchmarks.md); the outputs are the same bit for bit.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
