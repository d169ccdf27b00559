"""Real (untrained) model directories for tests that must not depend on shipped weights.

The networks are the product's own architectures with seeded random weights, exported
to ONNX with model cards exactly as training does; two seeds give two model versions.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from models.networks.embedding_net import EmbeddingNet
from models.networks.segmentation_net import build_segmentation_net
from models.onnx_export import export_embedder, export_segmenter
from models.registry import ModelCard, file_sha256, model_version_for, write_card


def _save(name: str, net: torch.nn.Module, out: Path, export: object, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out / f"{name}.pt")
    with warnings.catch_warnings():  # tracer warnings are expected during export
        warnings.simplefilter("ignore")
        export(net, out / f"{name}.onnx")  # type: ignore[operator]
    sha = file_sha256(out / f"{name}.onnx")
    write_card(
        out,
        ModelCard(
            name=name,
            model_version=model_version_for(name, sha),
            onnx_sha256=sha,
            torch_sha256=file_sha256(out / f"{name}.pt"),
            architecture=net.architecture() if isinstance(net, EmbeddingNet) else {},
            training={"note": f"untrained, torch seed {seed} (test fixture)"},
        ),
    )


def untrained_model_dir(out: Path, seed: int, *, context_channels: int = 0) -> Path:
    """An embedder (with a context tower of ``context_channels`` planes, 0: none) and a
    segmenter with seeded random weights, in shipped format."""
    torch.manual_seed(seed)
    embedder = EmbeddingNet(context_channels=context_channels).eval()
    _save("embedder", embedder, out, export_embedder, seed)
    torch.manual_seed(seed)
    _save("segmenter", build_segmentation_net().eval(), out, export_segmenter, seed)
    return out
