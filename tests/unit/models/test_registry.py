from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models import (
    SHIPPED_MODEL_DIR,
    ChecksumMismatchError,
    OnnxEmbedder,
    OnnxSegmenter,
    TorchEmbedder,
    WeightsNotFoundError,
    load_card,
)
from models.registry import file_sha256, model_version_for

NAMES = ("embedder", "segmenter")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_weights_match_their_model_card(name: str) -> None:
    card = load_card(None, name)
    assert card.onnx_sha256 == file_sha256(SHIPPED_MODEL_DIR / f"{name}.onnx")
    assert card.torch_sha256 == file_sha256(SHIPPED_MODEL_DIR / f"{name}.pt")
    assert card.model_version == model_version_for(name, card.onnx_sha256)
    assert card.onnx_sha256 in (SHIPPED_MODEL_DIR / f"{name}.md").read_text()
    assert card.training["command"].startswith(("simcase train", "python -m models.training."))
    assert (SHIPPED_MODEL_DIR / f"{name}.onnx").stat().st_size < 8 * 2**20


def test_shipped_models_load_with_their_version() -> None:
    embedder = OnnxEmbedder.load()
    card = load_card(None, "embedder")
    assert embedder.model_version == card.model_version
    signs = card.architecture["signs"]
    assert embedder.sign_count == len(signs["names"])
    assert embedder.dim == 128 + len(signs["classes"]) + 2 * len(signs["appearance"])
    assert OnnxSegmenter.load().model_version == load_card(None, "segmenter").model_version


def test_shipped_onnx_embedder_matches_its_torch_weights() -> None:
    rng = np.random.default_rng(1)
    crops = rng.normal(size=(16, 4, 64, 64)).astype(np.float32)
    onnx, eager = OnnxEmbedder.load(threads=1), TorchEmbedder.load()
    signs = rng.normal(size=onnx.sign_count)
    for given in (None, signs):
        a = onnx.embed_crops(crops, signs=given)
        b = eager.embed_crops(crops, signs=given)
        assert np.sum(a * b, axis=1).min() >= 0.9999


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    for suffix in ("onnx", "json"):
        shutil.copy(SHIPPED_MODEL_DIR / f"embedder.{suffix}", tmp_path / f"embedder.{suffix}")
    with (tmp_path / "embedder.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        OnnxEmbedder.load(tmp_path)


def test_missing_weights_are_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="embedder"):
        OnnxEmbedder.load(tmp_path)
