"""onnxruntime sessions for the shipped networks: CPU only, a fixed number of threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["cpu_session"]


def cpu_session(onnx_path: Path, threads: int = 0) -> Any:
    """An ``onnxruntime.InferenceSession`` on the CPU provider.

    Args:
        onnx_path: the ``.onnx`` file.
        threads: intra-op threads (0: onnxruntime's default); inter-op is always 1,
            as the networks are a single chain of operators.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
