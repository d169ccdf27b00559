"""The signs head: its parts, its ONNX export, and attaching it to an embedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models import OnnxEmbedder, TorchEmbedder
from models.context import CONTEXT_CHANNELS
from models.errors import InvalidStudyError
from models.networks import EmbeddingNet
from models.networks.signs_head import SignsHead
from models.onnx_export import export_embedder
from models.registry import load_card
from models.signs import SIGN_NAMES
from models.training.signs_fit import APPEARANCE, attach_signs, fit_signs_head
from tests.helpers.model_dirs import untrained_model_dir
from tests.unit.models.toy_studies import toy_study

DIAGNOSES = ("glioma", "meningioma", "metastasis")


def _fitted(diagnosis_weight: float = 1.0, appearance_weight: float = 1.0) -> dict[str, object]:
    rng = np.random.default_rng(0)
    signs = rng.normal(size=(90, len(SIGN_NAMES)))
    labels = [DIAGNOSES[i % 3] for i in range(90)]
    signs[:, 2] += np.array([i % 3 for i in range(90)]) * 2.0  # a sign that tells them apart
    return fit_signs_head(
        signs, labels, diagnosis_weight=diagnosis_weight, appearance_weight=appearance_weight
    )


def test_parts_have_the_weights_as_norms_and_zero_signs_give_zeros() -> None:
    head = SignsHead.from_architecture(_fitted(2.0, 0.5))
    rows = torch.randn(7, len(SIGN_NAMES))
    out = head(rows)
    k = len(DIAGNOSES)
    assert out.shape == (7, head.out_dim) == (7, k + 2 * len(APPEARANCE))
    assert torch.allclose(out[:, :k].norm(dim=1), torch.full((7,), 2.0), atol=1e-5)
    assert torch.allclose(out[:, k:].norm(dim=1), torch.full((7,), 0.5), atol=1e-5)
    assert torch.count_nonzero(head(torch.zeros(2, len(SIGN_NAMES)))) == 0


def test_the_classifier_learned_the_telling_sign() -> None:
    head = SignsHead.from_architecture(_fitted())
    rows = torch.zeros(3, len(SIGN_NAMES))
    rows[:, 2] = torch.tensor([0.0, 2.0, 4.0])
    probabilities = head(rows)[:, : len(DIAGNOSES)] ** 2
    assert probabilities.argmax(dim=1).tolist() == [0, 1, 2]


def test_appearance_similarity_falls_with_the_difference() -> None:
    head = SignsHead.from_architecture(_fitted(0.0, 1.0))
    base = torch.zeros(1, len(SIGN_NAMES))
    base[0, 0] = 0.1
    column = SIGN_NAMES.index("log_volume_ml")
    scale = float(head.scale[column])
    similarities = []
    for sds in (0.0, 1.0, 2.0, 4.0):
        other = base.clone()
        other[0, column] += sds * scale
        similarities.append(float((head(base) * head(other)).sum()))
    assert similarities[0] == pytest.approx(1.0, abs=1e-5)
    assert similarities[0] > similarities[1] > similarities[2] > similarities[3]


def test_onnx_graph_takes_the_signs_and_matches_torch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = EmbeddingNet(context_channels=CONTEXT_CHANNELS, signs=_fitted()).eval()
    export_embedder(net, tmp_path / "embedder.onnx")
    onnx = OnnxEmbedder(tmp_path / "embedder.onnx", "test", threads=1)
    eager = TorchEmbedder(net, "test")
    assert onnx.sign_count == eager.sign_count == len(SIGN_NAMES)
    assert onnx.dim == eager.dim == 128 + net.signs.out_dim  # type: ignore[union-attr]
    study = toy_study()
    assert study.mask is not None
    a, b = onnx.embed_case(study, study.mask), eager.embed_case(study, study.mask)
    assert float(a @ b) > 0.9999
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)


def test_attach_keeps_the_image_network_and_writes_a_new_version(tmp_path: Path) -> None:
    base = untrained_model_dir(tmp_path / "base", seed=3, context_channels=CONTEXT_CHANNELS)
    card = load_card(base, "embedder")
    image = TorchEmbedder.load(base).net

    new = attach_signs(base, _fitted(), tmp_path / "out", {"command": "test"})
    assert new.model_version != card.model_version
    assert new.architecture["signs"]["names"] == list(SIGN_NAMES)
    assert json.loads((tmp_path / "out" / "embedder.json").read_text())["training"]["image_part"]
    loaded = OnnxEmbedder.load(tmp_path / "out", threads=1)
    study = toy_study()
    assert study.mask is not None
    crops_only = TorchEmbedder(image, "image")
    with_signs = loaded.embed(study, study.mask)
    image_rows = crops_only.embed(study, study.mask)
    # the image part of each row is the old network's vector, scaled by the normalisation
    part = with_signs[:, :128]
    cosine = np.sum(part * image_rows, axis=1) / np.linalg.norm(part, axis=1)
    assert cosine.min() > 0.9999


def test_reweight_changes_only_the_part_weights(tmp_path: Path) -> None:
    from models.training.signs_fit import reweight_signs

    base = untrained_model_dir(tmp_path / "base", seed=4, context_channels=CONTEXT_CHANNELS)
    first = attach_signs(base, _fitted(), tmp_path / "one", {"command": "test"})
    second = reweight_signs(
        tmp_path / "one",
        tmp_path / "two",
        diagnosis_weight=2.0,
        appearance_weight=0.5,
        reason="test corpus",
    )
    assert second.model_version != first.model_version
    assert second.training["reweighted"]["from"] == first.model_version
    assert second.training["reweighted"]["reason"] == "test corpus"
    study = toy_study()
    assert study.mask is not None
    old = OnnxEmbedder.load(tmp_path / "one", threads=1).embed(study, study.mask)
    new = OnnxEmbedder.load(tmp_path / "two", threads=1).embed(study, study.mask)
    n_classes = len(second.architecture["signs"]["classes"])

    def norms(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        image = np.linalg.norm(rows[:, :128], axis=1)
        diagnosis = np.linalg.norm(rows[:, 128 : 128 + n_classes], axis=1)
        appearance = np.linalg.norm(rows[:, 128 + n_classes :], axis=1)
        return image, diagnosis, appearance

    old_image, old_diagnosis, old_appearance = norms(old)
    new_image, new_diagnosis, new_appearance = norms(new)
    # each part is unit norm times its weight (image 1), then the row is normalised
    np.testing.assert_allclose(old_diagnosis / old_image, 1.0, rtol=1e-4)
    np.testing.assert_allclose(old_appearance / old_image, 1.0, rtol=1e-4)
    np.testing.assert_allclose(new_diagnosis / new_image, 2.0, rtol=1e-4)
    np.testing.assert_allclose(new_appearance / new_image, 0.5, rtol=1e-4)
    # the directions within each part are unchanged
    cosine = np.sum(old[:, :128] * new[:, :128], axis=1) / (old_image * new_image)
    assert cosine.min() > 0.9999


def test_a_head_fitted_to_fewer_signs_takes_the_first_of_a_longer_row() -> None:
    """Signs are only appended: an embedder fitted before the form signs (16 signs) reads
    the first 16 of today's row and refuses a row shorter than its head."""
    full = _fitted()
    arch = {
        **full,
        "names": list(SIGN_NAMES[:16]),
        "mean": full["mean"][:16],  # type: ignore[index]
        "scale": full["scale"][:16],  # type: ignore[index]
        "coef": [row[:16] for row in full["coef"]],  # type: ignore[attr-defined]
    }
    torch.manual_seed(0)
    embedder = TorchEmbedder(EmbeddingNet(widths=(4, 8, 8, 8), dim=16, signs=arch), "old")
    assert embedder.sign_count == 16
    rng = np.random.default_rng(3)
    crops = rng.normal(size=(2, 4, 64, 64)).astype(np.float32)
    row = rng.normal(size=len(SIGN_NAMES))
    assert np.array_equal(
        embedder.embed_crops(crops, signs=row), embedder.embed_crops(crops, signs=row[:16])
    )
    with pytest.raises(InvalidStudyError, match="at least"):
        embedder.embed_crops(crops, signs=row[:10])
