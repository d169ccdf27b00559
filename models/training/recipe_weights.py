"""A recipe run's networks as shipped weights: ``.pt``, ONNX and the model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from models.networks.embedding_net import EmbeddingNet
from models.networks.segmentation_net import build_segmentation_net
from models.onnx_export import export_embedder, export_segmenter
from models.registry import ModelCard, file_sha256, model_version_for, write_card
from models.training.segmenter_training import SegmenterConfig, segmenter_config_of

__all__ = ["TRAINING_KEYS", "finish_recipe", "write_weights"]


#: What a model card's ``training`` takes from a run's ``recipe.json``.
TRAINING_KEYS = ("command", "data", "hardware", "environment", "seconds")


def write_weights(
    name: str,
    net: torch.nn.Module,
    export: Any,
    out_dir: Path,
    training: dict[str, Any],
    part: dict[str, Any],
    seg_config: SegmenterConfig | None = None,
) -> ModelCard:
    torch.save(net.state_dict(), out_dir / f"{name}.pt")
    export(net, out_dir / f"{name}.onnx")
    onnx_sha = file_sha256(out_dir / f"{name}.onnx")
    architecture = (
        net.architecture()
        if isinstance(net, EmbeddingNet)
        else {
            "class": "monai.networks.nets.UNet",
            "channels": list(seg_config.channels) if seg_config else None,
        }
    )
    card = ModelCard(
        name=name,
        model_version=model_version_for(name, onnx_sha),
        onnx_sha256=onnx_sha,
        torch_sha256=file_sha256(out_dir / f"{name}.pt"),
        architecture=architecture,
        preprocessing={},
        training={**training, "config": part["config"], "history": part["history"]},
    )
    write_card(out_dir, card)
    return card


def finish_recipe(
    run_dir: Path, out_dir: Path, *, embedder_file: str = "embedder.pt"
) -> tuple[ModelCard, ModelCard]:
    """Shipped-format weights (ONNX + model cards) of a recipe run's ``*.pt`` files
    (``embedder_file``: which of the run's embedders)."""
    record = json.loads((run_dir / "recipe.json").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    cards = []
    seg_config = segmenter_config_of(record["segmenter"]["config"])
    segmenter = build_segmentation_net(seg_config.channels)
    segmenter.load_state_dict(torch.load(run_dir / "segmenter.pt", weights_only=True))
    embedder = EmbeddingNet.from_architecture(record["embedder"]["architecture"])
    embedder.load_state_dict(torch.load(run_dir / embedder_file, weights_only=True))
    training = {k: record[k] for k in TRAINING_KEYS}
    for name, net, export, part in (
        ("segmenter", segmenter.eval(), export_segmenter, record["segmenter"]),
        ("embedder", embedder.eval(), export_embedder, record["embedder"]),
    ):
        cards.append(write_weights(name, net, export, out_dir, training, part, seg_config))
    return cards[0], cards[1]
