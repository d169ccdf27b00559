from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from models import SHIPPED_MODEL_DIR, OnnxSegmenter, TorchSegmenter, load_card
from models.networks.oedema_growth import (
    FLAIR_CHANNEL,
    OEDEMA_LABEL,
    T2_CHANNEL,
    OedemaGrowth,
    grow_oedema,
)
from models.networks.segmentation_net import build_segmentation_net
from models.onnx_export import export_segmenter
from models.registry import ModelCard, file_sha256, model_version_for, write_card
from models.training.segmenter_growth import add_oedema_growth


def _phantom(bright_t2: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A 24^3 brain (noise around 0) with a 4-voxel tumour cube at x 10-13 that the
    logits call necrosis, a FLAIR-bright shell 6 voxels deep on its +x side only, and
    a FLAIR-bright blob far from it."""
    rng = np.random.default_rng(3)
    image = rng.normal(0.0, 0.3, size=(1, 4, 24, 24, 24)).astype(np.float32)
    image[:, :, :2] = 0.0  # outside the head
    bright = np.zeros((24, 24, 24), dtype=bool)
    bright[14:20, 10:14, 10:14] = True  # contiguous with the tumour, +x side
    bright[3:6, 3:6, 3:6] = True  # a bright blob far away
    image[0, FLAIR_CHANNEL][bright] = 4.0
    image[0, T2_CHANNEL][bright] = 3.0 if bright_t2 else -1.0
    logits = np.zeros((1, 4, 24, 24, 24), dtype=np.float32)
    logits[0, 0] = 2.0
    logits[0, 1, 10:14, 10:14, 10:14] = 5.0
    return torch.from_numpy(image), torch.from_numpy(logits)


def _labels(logits: torch.Tensor) -> np.ndarray:
    return logits.argmax(dim=1)[0].numpy()


def test_growth_follows_bright_tissue_contiguous_with_the_tumour_for_steps_only() -> None:
    image, logits = _phantom()
    labels = _labels(grow_oedema(logits, image, flair_z=1.75, t2_z=0.0, steps=4))
    assert (labels[10:14, 10:14, 10:14] == 1).all()  # the network's tumour is kept
    assert (labels[14:18, 10:14, 10:14] == OEDEMA_LABEL).all()  # 4 steps along +x
    assert (labels[18:20, 10:14, 10:14] == 0).all()  # not beyond the steps
    assert (labels[3:6, 3:6, 3:6] == 0).all()  # bright but not contiguous
    assert (labels[6:10, 10:14, 10:14] == 0).all()  # contiguous but not bright
    assert int((labels > 0).sum()) == 64 + 64


def test_no_growth_without_t2_evidence_or_without_the_sequence() -> None:
    image, logits = _phantom(bright_t2=False)
    before = _labels(logits)
    assert (_labels(grow_oedema(logits, image, flair_z=1.75, t2_z=0.0, steps=4)) == before).all()
    image, logits = _phantom()
    image[:, FLAIR_CHANNEL] = 0.0  # FLAIR missing: a zero channel
    assert (_labels(grow_oedema(logits, image, flair_z=-9.0, t2_z=-9.0, steps=4)) == before).all()
    image, logits = _phantom()
    assert (_labels(grow_oedema(logits, image, flair_z=1.75, t2_z=0.0, steps=0)) == before).all()


def test_no_tumour_stays_no_tumour() -> None:
    image, logits = _phantom()
    logits[0, 1] = 0.0
    assert not _labels(grow_oedema(logits, image, flair_z=1.75, t2_z=0.0, steps=4)).any()


class _Fixed(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.logits + 0.0 * image[:, :1]


def test_the_wrapper_is_the_function_after_the_network() -> None:
    image, logits = _phantom()
    wrapped = OedemaGrowth(_Fixed(logits), flair_z=1.75, t2_z=0.0, steps=4)
    expected = grow_oedema(logits, image, flair_z=1.75, t2_z=0.0, steps=4)
    assert torch.equal(wrapped(image), expected)
    with pytest.raises(ValueError, match="steps"):
        OedemaGrowth(_Fixed(logits), flair_z=1.75, t2_z=0.0, steps=-1)


def _study_channels(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-looking channels of a 2 mm 40^3 head with a bright lesion."""
    rng = np.random.default_rng(seed)
    channels = rng.normal(0.0, 1.0, size=(4, 40, 40, 40)).astype(np.float32)
    channels[:, :4] = 0.0
    channels[:, 14:24, 14:24, 14:24] += 3.0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    return channels, affine


def _without_growth(directory: Path) -> ModelCard:
    """The shipped segmenter's trained network alone, as the model it was grown from."""
    card = load_card(None, "segmenter")
    net = build_segmentation_net(tuple(card.architecture["channels"]))
    net.load_state_dict(torch.load(SHIPPED_MODEL_DIR / "segmenter.pt", weights_only=True))
    directory.mkdir()
    shutil.copyfile(SHIPPED_MODEL_DIR / "segmenter.pt", directory / "segmenter.pt")
    export_segmenter(net, directory / "segmenter.onnx")
    onnx_sha = file_sha256(directory / "segmenter.onnx")
    base = ModelCard(
        name="segmenter",
        model_version=model_version_for("segmenter", onnx_sha),
        onnx_sha256=onnx_sha,
        torch_sha256=card.torch_sha256,
        architecture={k: v for k, v in card.architecture.items() if k != "oedema_growth"},
        preprocessing=dict(card.preprocessing),
        training={k: v for k, v in card.training.items() if k != "oedema_growth"},
        notes=card.notes[:-1],
    )
    write_card(directory, base)
    return base


def test_the_shipped_growth_is_reproduced_from_its_card_and_runs_alike_in_onnx_and_torch(
    tmp_path: Path,
) -> None:
    shipped = load_card(None, "segmenter")
    recorded = shipped.training["oedema_growth"]
    base = _without_growth(tmp_path / "base")
    assert base.model_version == recorded["from"]  # the network it was grown from
    card = add_oedema_growth(
        tmp_path / "base",
        tmp_path / "grown",
        flair_z=recorded["flair_z"],
        t2_z=recorded["t2_z"],
        steps=recorded["steps"],
        reason=recorded["reason"],
    )
    assert card.onnx_sha256 == shipped.onnx_sha256  # reproducible byte for byte
    assert card.model_version == shipped.model_version != base.model_version
    assert card.torch_sha256 == shipped.torch_sha256  # the trained network is unchanged
    assert card.architecture["oedema_growth"] == {
        k: recorded[k] for k in ("flair_z", "t2_z", "steps")
    }
    onnx = OnnxSegmenter.load(None, threads=1)
    eager = TorchSegmenter.load(None)
    assert onnx.model_version == eager.model_version == card.model_version
    assert isinstance(eager.net, OedemaGrowth)
    channels, affine = _study_channels(5)
    study = _Study(channels, affine)
    a = onnx.segment(study, channels=channels)
    b = eager.segment(study, channels=channels)
    assert a.shape == (40, 40, 40)
    assert np.mean(a == b) > 0.999
    with pytest.raises(ValueError, match="already"):
        add_oedema_growth(
            SHIPPED_MODEL_DIR, tmp_path / "again", flair_z=1, t2_z=0, steps=1, reason="x"
        )


class _Study:
    def __init__(self, channels: np.ndarray, affine: np.ndarray) -> None:
        self.arrays = {name: channels[i] for i, name in enumerate(("T1", "T1C", "T2", "FLAIR"))}
        self.affine = affine
        self.mask = None
