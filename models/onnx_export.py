"""Export the torch networks to ONNX for onnxruntime inference."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from models.context import CONTEXT_SIZE_PX
from models.slices import CROP_SIZE_PX

__all__ = ["ONNX_OPSET", "export_embedder", "export_segmenter"]

ONNX_OPSET = 17


def _export(
    net: nn.Module,
    examples: tuple[torch.Tensor, ...],
    path: Path,
    input_names: list[str],
    output_name: str,
    dynamic: dict[int, str],
) -> None:
    was_training = net.training
    net.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The torch.export-based exporter needs onnxscript, which simcase does not install;
    # the TorchScript exporter is deprecated but exact for these plain conv nets (the
    # tests compare ONNX and torch outputs). Its deprecation notice and the tracer's
    # warnings about MONAI's shape checks are expected, so all are silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            examples,
            str(path),
            input_names=input_names,
            output_names=[output_name],
            dynamic_axes={
                **dict.fromkeys(input_names, dynamic),
                output_name: {0: dynamic[0]},
            },
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    net.train(was_training)


def export_embedder(net: nn.Module, path: Path, *, size_px: int = CROP_SIZE_PX) -> None:
    """Write the embedder as ONNX: input ``crops`` ``[B, 4, S, S]``, output ``embeddings``.

    A network with a context tower (``context_channels`` > 0) has a second input,
    ``context`` ``[B, K, CONTEXT_SIZE_PX, CONTEXT_SIZE_PX]``; one with a signs head a
    third, ``signs`` ``[B, S]``.
    """
    examples: tuple[torch.Tensor, ...] = (torch.zeros(2, 4, size_px, size_px),)
    names = ["crops"]
    context_channels = int(getattr(net, "context_channels", 0))
    if context_channels > 0:
        examples += (torch.zeros(2, context_channels, CONTEXT_SIZE_PX, CONTEXT_SIZE_PX),)
        names.append("context")
    sign_count = int(getattr(net, "sign_count", 0))
    if sign_count > 0:
        if context_channels == 0:
            raise ValueError("a signs head needs the context tower's input order")
        examples += (torch.ones(2, sign_count),)
        names.append("signs")
    _export(net, examples, path, names, "embeddings", {0: "batch"})


def export_segmenter(net: nn.Module, path: Path) -> None:
    """Write the segmenter as ONNX: input ``image`` ``[B, 4, X, Y, Z]``, output ``logits``."""
    example = (torch.zeros(1, 4, 32, 32, 32),)
    _export(net, example, path, ["image"], "logits", {0: "batch", 2: "x", 3: "y", 4: "z"})
