"""The model registry: weights files, model cards, sha256 and model versions.

A model directory holds, for each model ``<name>`` (``embedder``, ``segmenter``):
``<name>.onnx`` (inference), ``<name>.pt`` (torch state dict, for fine-tuning and
the torch path), ``<name>.json`` (the machine-readable model card) and
``<name>.md`` (the same card for people). The model version is derived from the
ONNX weights: ``<name>-<first 12 hex digits of their sha256>``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ChecksumMismatchError, WeightsNotFoundError

__all__ = [
    "SHIPPED_MODEL_DIR",
    "ModelCard",
    "file_sha256",
    "load_card",
    "model_version_for",
    "resolve_model_dir",
    "write_card",
]

#: The weights shipped inside the package.
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "weights"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_version_for(name: str, onnx_sha256: str) -> str:
    """The model version string of weights with the given sha256."""
    return f"{name}-{onnx_sha256[:12]}"


@dataclass
class ModelCard:
    """What a set of weights is, how it was made and how well it does.

    Attributes:
        name: ``"embedder"`` or ``"segmenter"``.
        model_version: derived from ``onnx_sha256`` (:func:`model_version_for`).
        onnx_sha256: sha256 of ``<name>.onnx``.
        torch_sha256: sha256 of ``<name>.pt``.
        architecture: network class and its arguments.
        preprocessing: what the inputs must look like.
        training: data command, seeds, epochs, hyper-parameters, wall time.
        metrics: evaluation numbers, with the command that produced them.
        notes: limitations, in words.
    """

    name: str
    model_version: str
    onnx_sha256: str
    torch_sha256: str
    architecture: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        """The card as Markdown."""
        lines = [
            f"# Model card: {self.name}",
            "",
            f"- model version: `{self.model_version}`",
            f"- `{self.name}.onnx` sha256: `{self.onnx_sha256}`",
            f"- `{self.name}.pt` sha256: `{self.torch_sha256}`",
            "",
        ]
        for title, content in (
            ("Architecture", self.architecture),
            ("Preprocessing", self.preprocessing),
            ("Training", self.training),
            ("Metrics", self.metrics),
        ):
            lines += [f"## {title}", "", "```json", json.dumps(content, indent=2), "```", ""]
        if self.notes:
            lines += ["## Notes and limitations", ""] + [f"- {n}" for n in self.notes] + [""]
        lines.append("Synthetic training data; not for diagnostic use.")
        return "\n".join(lines) + "\n"


def resolve_model_dir(model_dir: Path | None) -> Path:
    """``model_dir``, or the shipped weights when ``None``."""
    return SHIPPED_MODEL_DIR if model_dir is None else Path(model_dir)


def write_card(model_dir: Path, card: ModelCard) -> None:
    """Write ``<name>.json`` and ``<name>.md`` into ``model_dir``."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / f"{card.name}.json").write_text(json.dumps(asdict(card), indent=2) + "\n")
    (model_dir / f"{card.name}.md").write_text(card.to_markdown())


def load_card(model_dir: Path | None, name: str, *, verify: bool = True) -> ModelCard:
    """Read the card of model ``name`` and check the weights against it.

    Raises:
        WeightsNotFoundError: the card or the ONNX weights are missing.
        ChecksumMismatchError: the ONNX weights' sha256 differs from the card's.
    """
    directory = resolve_model_dir(model_dir)
    card_path = directory / f"{name}.json"
    onnx_path = directory / f"{name}.onnx"
    if not card_path.is_file() or not onnx_path.is_file():
        raise WeightsNotFoundError(f"no {name} weights in {directory} ({name}.onnx + {name}.json)")
    card = ModelCard(**json.loads(card_path.read_text()))
    if verify:
        actual = file_sha256(onnx_path)
        if actual != card.onnx_sha256:
            raise ChecksumMismatchError(
                f"{onnx_path} has sha256 {actual}, its model card says {card.onnx_sha256}"
            )
        if card.model_version != model_version_for(name, actual):
            raise ChecksumMismatchError(
                f"model card {card_path} names version {card.model_version}, "
                f"the weights give {model_version_for(name, actual)}"
            )
    return card
