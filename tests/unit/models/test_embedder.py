from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models import (
    Embedder,
    InvalidStudyError,
    OnnxEmbedder,
    TorchEmbedder,
    select_tumour_slices,
)
from models.context import CONTEXT_CHANNELS
from models.networks import EmbeddingNet
from models.onnx_export import export_embedder
from models.registry import load_card
from tests.unit.models.toy_studies import toy_study


@pytest.fixture(scope="module")
def net() -> EmbeddingNet:
    torch.manual_seed(0)
    model = EmbeddingNet()
    # non-trivial batch-norm statistics, as after training
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 4, 64, 64) * 2 + 0.5)
    return model.eval()


def test_output_is_128_d_unit_vectors(net: EmbeddingNet) -> None:
    out = net(torch.randn(5, 4, 64, 64))
    assert out.shape == (5, 128)
    assert torch.allclose(out.norm(dim=1), torch.ones(5), atol=1e-5)


def test_onnx_matches_torch(net: EmbeddingNet, tmp_path: Path) -> None:
    path = tmp_path / "embedder.onnx"
    export_embedder(net, path)
    torch_embedder = TorchEmbedder(net, "test")
    onnx_embedder = OnnxEmbedder(path, "test", threads=1)
    crops = np.random.default_rng(0).normal(size=(40, 4, 64, 64)).astype(np.float32)
    a = torch_embedder.embed_crops(crops)
    b = onnx_embedder.embed_crops(crops)
    cosine = np.sum(a * b, axis=1)
    assert cosine.min() >= 0.9999
    assert onnx_embedder.dim == 128


def test_embed_study_gives_unit_rows_and_a_case_vector(net: EmbeddingNet) -> None:
    study = toy_study()
    assert study.mask is not None
    embedder: Embedder = TorchEmbedder(net, "test")
    assert isinstance(embedder, Embedder)
    rows = embedder.embed(study, study.mask)
    assert rows.shape == (3, 128) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    case = embedder.embed_case(study, study.mask)
    assert case.shape == (128,)
    assert np.linalg.norm(case) == pytest.approx(1.0, abs=1e-5)


def test_missing_sequences_still_embed(net: EmbeddingNet) -> None:
    study = toy_study(missing=("T1", "T2", "FLAIR"))
    assert study.mask is not None
    rows = TorchEmbedder(net, "test").embed(study, study.mask)
    assert np.isfinite(rows).all()


def test_bad_crop_shape_is_refused(net: EmbeddingNet) -> None:
    with pytest.raises(InvalidStudyError, match="crops"):
        TorchEmbedder(net, "test").embed_crops(np.zeros((2, 3, 64, 64), dtype=np.float32))


@pytest.fixture(scope="module")
def context_net() -> EmbeddingNet:
    torch.manual_seed(1)
    model = EmbeddingNet(context_channels=CONTEXT_CHANNELS)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(
                torch.randn(16, 4, 64, 64) * 2 + 0.5,
                (torch.rand(16, CONTEXT_CHANNELS, 64, 64) > 0.7).float(),
            )
    return model.eval()


def test_onnx_with_context_matches_torch(context_net: EmbeddingNet, tmp_path: Path) -> None:
    path = tmp_path / "embedder.onnx"
    export_embedder(context_net, path)
    torch_embedder = TorchEmbedder(context_net, "test")
    onnx_embedder = OnnxEmbedder(path, "test", threads=1)
    assert onnx_embedder.context_channels == torch_embedder.context_channels == CONTEXT_CHANNELS
    rng = np.random.default_rng(0)
    crops = rng.normal(size=(40, 4, 64, 64)).astype(np.float32)
    context = (rng.random((40, CONTEXT_CHANNELS, 64, 64)) > 0.7).astype(np.float32)
    a = torch_embedder.embed_crops(crops, context)
    b = onnx_embedder.embed_crops(crops, context)
    assert np.sum(a * b, axis=1).min() >= 0.9999
    # one set of planes is shared by every crop; no planes at all means empty ones
    shared = onnx_embedder.embed_crops(crops[:3], context[0])
    np.testing.assert_allclose(shared, onnx_embedder.embed_crops(crops[:3], context[[0, 0, 0]]))
    blank = onnx_embedder.embed_crops(crops[:3])
    np.testing.assert_allclose(blank, onnx_embedder.embed_crops(crops[:3], 0 * context[0]))
    assert np.abs(blank - shared).max() > 1e-4


def test_study_embedding_uses_the_context(context_net: EmbeddingNet) -> None:
    study = toy_study()
    assert study.mask is not None
    embedder = TorchEmbedder(context_net, "test")
    slices = select_tumour_slices(study, study.mask)
    rows = embedder.embed(study, study.mask)
    np.testing.assert_allclose(rows, embedder.embed_crops(slices.crops, slices.context))
    assert np.abs(rows - embedder.embed_crops(slices.crops)).max() > 1e-4


def test_bad_context_shape_is_refused(context_net: EmbeddingNet) -> None:
    crops = np.zeros((2, 4, 64, 64), dtype=np.float32)
    with pytest.raises(InvalidStudyError, match="context"):
        TorchEmbedder(context_net, "test").embed_crops(crops, np.zeros((3, 6, 64, 64)))


def test_flip_average_is_in_the_onnx_graph_and_mirror_invariant(tmp_path: Path) -> None:
    torch.manual_seed(3)
    net = EmbeddingNet(context_channels=CONTEXT_CHANNELS, flip_average=True)
    # BatchNorm statistics away from the identity (a fresh net is nearly constant)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    net.eval()
    path = tmp_path / "embedder.onnx"
    export_embedder(net, path)
    onnx_embedder = OnnxEmbedder(path, "test", threads=1)
    torch_embedder = TorchEmbedder(net, "test")
    rng = np.random.default_rng(1)
    crops = rng.normal(size=(12, 4, 64, 64)).astype(np.float32)
    crops[:, :, :20] += 2.0  # not symmetric
    context = (rng.random((12, CONTEXT_CHANNELS, 64, 64)) > 0.7).astype(np.float32)
    a = onnx_embedder.embed_crops(crops, context)
    assert np.sum(a * torch_embedder.embed_crops(crops, context), axis=1).min() >= 0.9999
    mirrored = onnx_embedder.embed_crops(crops[:, :, ::-1].copy(), context[:, :, ::-1].copy())
    assert np.sum(a * mirrored, axis=1).min() >= 0.9999
    # it is the normalised sum of the plain vectors of the crop and its mirror image
    net.flip_average = False
    plain = TorchEmbedder(net, "test")
    both = plain.embed_crops(crops, context) + plain.embed_crops(
        crops[:, :, ::-1].copy(), context[:, :, ::-1].copy()
    )
    both /= np.linalg.norm(both, axis=1, keepdims=True)
    np.testing.assert_allclose(a, both, atol=1e-5)
    # training mode never averages
    net.train()
    net.flip_average = True
    with torch.no_grad():
        train_out = net(torch.from_numpy(crops), torch.from_numpy(context))
    net.flip_average = False
    with torch.no_grad():
        np.testing.assert_allclose(
            train_out.numpy(), net(torch.from_numpy(crops), torch.from_numpy(context)).numpy()
        )


def test_architecture_round_trips_through_the_shipped_card() -> None:
    card = load_card(None, "embedder")
    net = EmbeddingNet.from_architecture(card.architecture)
    assert net.architecture() == card.architecture
    assert EmbeddingNet.from_architecture({}).architecture()["context_channels"] == 0


def test_channels_normalised_once_give_the_same_mask_and_vector() -> None:
    """The pipeline normalises a study once for both networks: same results as each alone."""
    from models import OnnxSegmenter, normalised_channels

    study = toy_study(spacing=2.0, seed=3)
    assert study.mask is not None
    segmenter = OnnxSegmenter.load(threads=1)
    embedder = OnnxEmbedder.load(threads=1)
    channels = normalised_channels(study)
    np.testing.assert_array_equal(
        segmenter.segment(study, channels=channels), segmenter.segment(study)
    )
    np.testing.assert_array_equal(
        embedder.embed_case(study, study.mask, channels=channels),
        embedder.embed_case(study, study.mask),
    )
