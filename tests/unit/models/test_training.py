from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from models import TorchSegmenter
from models.training import (
    EmbedderConfig,
    SegmenterConfig,
    build_crop_set,
    build_volume_set,
    train_embedder,
    train_segmenter,
)
from models.training.embedder_training import balanced_batches
from models.training.finetune_recipe import parse_sources
from tests.unit.models.toy_studies import toy_study

CLASSES = ("glioma", "meningioma", "metastasis")


@pytest.fixture(scope="module")
def crop_set():  # type: ignore[no-untyped-def]
    cases = []
    for i in range(6):
        kind = "ring" if i % 3 != 1 else "solid"
        study = toy_study(
            spacing=3.0,
            seed=i,
            kind=kind,
            tumour_radius_mm=8.0 + 3 * (i % 3),
            tumour_centre_mm=(50.0 + 5 * i, 60.0, 60.0),
        )
        assert study.mask is not None
        cases.append((study, study.mask, CLASSES[i % 3]))
    return build_crop_set(cases, CLASSES, n_offsets=1)


def _tiny_config(**changes: object) -> EmbedderConfig:
    base = {
        "epochs": 1,
        "seed": 7,
        "per_class": 3,
        "widths": (4, 8, 8, 16),
        "dim": 16,
        "threads": 1,
    }
    base.update(changes)
    return EmbedderConfig(**base)  # type: ignore[arg-type]


def test_crop_set_has_several_slices_per_case(crop_set) -> None:  # type: ignore[no-untyped-def]
    assert len(crop_set) >= 12
    assert crop_set.crops.shape[1:] == (4, 80, 80)
    assert set(crop_set.labels.tolist()) == {0, 1, 2}


def test_balanced_batches_hold_every_class(crop_set) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    for batch in balanced_batches(crop_set.labels, 3, rng):
        assert np.bincount(crop_set.labels[batch], minlength=3).tolist() == [3, 3, 3]


def test_two_trainings_with_one_seed_give_identical_weights(  # type: ignore[no-untyped-def]
    crop_set, tmp_path: Path
) -> None:
    config = _tiny_config()
    first, history = train_embedder(crop_set, config, tmp_path / "a", progress=False)
    second, _ = train_embedder(crop_set, config, tmp_path / "b", progress=False)
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert history[0]["epoch"] == 1
    other, _ = train_embedder(crop_set, _tiny_config(seed=8), tmp_path / "c", progress=False)
    assert not torch.equal(first.head.weight, other.head.weight)


def test_training_resumes_from_its_checkpoint(crop_set, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    two = _tiny_config(epochs=2)
    straight, _ = train_embedder(crop_set, two, tmp_path / "straight", progress=False)
    work = tmp_path / "resumed"
    train_embedder(crop_set, two, work, progress=False)
    assert (work / "checkpoint.pt").is_file()
    resumed, history = train_embedder(crop_set, two, work, progress=False)
    assert len(history) == 2  # nothing left to do: the checkpoint is complete
    assert torch.equal(straight.head.weight, resumed.head.weight)


class _ShiftedSegmenter:
    """Stands in for the segmenter: the given mask moved 2 voxels along X."""

    model_version = "shifted"

    def segment(self, study):  # type: ignore[no-untyped-def]
        return np.roll(study.mask, 2, axis=0)


def test_crop_set_keeps_the_context_of_a_segmentation_too() -> None:
    study = toy_study(spacing=3.0)
    assert study.mask is not None
    plain = build_crop_set([(study, study.mask, "glioma")], CLASSES, n_offsets=1)
    assert plain.query_context is plain.context  # no copy without a segmenter
    both = build_crop_set(
        [(study, study.mask, "glioma")], CLASSES, n_offsets=1, segmenter=_ShiftedSegmenter()
    )
    np.testing.assert_array_equal(both.context, plain.context)
    tumour = both.context[0, 0].astype(np.float32)
    moved = both.query_context[0, 0].astype(np.float32)
    # 2 voxels of 3 mm = 6 mm = 2 context pixels of 3 mm towards +X
    np.testing.assert_allclose(np.roll(tumour, 2, axis=0)[8:-8], moved[8:-8], atol=1e-3)
    assert not np.array_equal(tumour, moved)


class _Interrupted(Exception):
    pass


def test_interrupted_training_resumes_to_the_same_weights(  # type: ignore[no-untyped-def]
    crop_set, tmp_path: Path
) -> None:
    # with the weight average and the proxy loss, whose states live in the checkpoint too
    config = _tiny_config(epochs=2, ema_decay=0.9, softmax_weight=0.5)
    straight, _ = train_embedder(crop_set, config, tmp_path / "straight", progress=False)

    def stop_in_epoch_two(epoch: int, net: object, record: object) -> dict[str, float]:
        if epoch == 2:
            raise _Interrupted
        return {}

    work = tmp_path / "interrupted"
    with pytest.raises(_Interrupted):
        train_embedder(crop_set, config, work, progress=False, on_epoch=stop_in_epoch_two)
    resumed, history = train_embedder(crop_set, config, work, progress=False)
    assert [record["epoch"] for record in history] == [1, 2]
    for (name, a), (_, b) in zip(
        straight.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_segmenter_trains_and_segments_on_the_study_grid(tmp_path: Path) -> None:
    studies = [toy_study(spacing=3.0, seed=i) for i in range(2)]
    volumes = build_volume_set((s, s.mask) for s in studies if s.mask is not None)
    config = SegmenterConfig(epochs=1, volume=(24, 24, 24), jitter=2, channels=(4, 8), threads=1)
    net, history = train_segmenter(volumes, config, tmp_path, progress=False)
    assert np.isfinite(history[0]["loss"])
    study = toy_study(spacing=3.0, seed=5)
    labels = TorchSegmenter(net, "test").segment(study)
    assert labels.shape == study.shape
    assert labels.dtype == np.uint8
    assert set(np.unique(labels).tolist()) <= {0, 1, 2, 3}


def test_row_buffer_across_blocks_equals_a_plain_concatenation() -> None:
    from models.training.crops import _RowBuffer

    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(int(n), 3, 5)).astype(np.float32) for n in (2, 5, 1, 7)]
    buffer = _RowBuffer(block_bytes=4 * 3 * 5 * 2)  # four rows per block
    for part in parts:
        buffer.append(part)
    out = buffer.array()
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.concatenate(parts).astype(np.float16))


def test_segmenter_fine_tuning_starts_from_the_given_weights(tmp_path: Path) -> None:
    studies = [toy_study(spacing=3.0, seed=i) for i in range(2)]
    volumes = build_volume_set((s, s.mask) for s in studies if s.mask is not None)
    config = SegmenterConfig(epochs=1, volume=(24, 24, 24), jitter=2, channels=(4, 8), threads=1)
    first, _ = train_segmenter(volumes, config, tmp_path / "a", progress=False)
    # no learning: the weights must come back as they were given
    frozen = replace(config, lr=0.0)
    again, _ = train_segmenter(
        volumes, frozen, tmp_path / "b", progress=False, initial=first.state_dict()
    )
    for name, value in first.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name


def test_sources_parse_as_generator_seed_count() -> None:
    assert parse_sources("a:31:300, b:41:240,") == [("a", 31, 300), ("b", 41, 240)]
