"""The segmenter's partial interpolation equals a full trilinear interpolation + arg-max."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.segmenter import _labels_on_study_grid, brain_box


def _full(logits: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    scores = torch.nn.functional.interpolate(
        torch.from_numpy(logits)[None], size=shape, mode="trilinear", align_corners=False
    )[0]
    return np.asarray(torch.argmax(scores, dim=0).numpy())


@pytest.mark.parametrize("trial", range(12))
def test_labels_match_the_full_interpolation(trial: int) -> None:
    rng = np.random.default_rng(trial)
    grid = tuple(int(v) for v in rng.integers(20, 40, 3))
    shape = tuple(int(g * rng.uniform(1.5, 2.6)) for g in grid)
    logits = np.zeros((4, *grid), dtype=np.float32)
    logits[0] = 5.0
    c = rng.integers(5, 15, 3)
    logits[1:, c[0] : c[0] + 6, c[1] : c[1] + 5, c[2] : c[2] + 4] = rng.normal(6, 3, (3, 6, 5, 4))
    expected = _full(logits, shape)  # type: ignore[arg-type]
    assert expected.any()
    assert np.array_equal(_labels_on_study_grid(logits, (0, 0, 0), grid, shape), expected)
    # The network ran on a sub-box (the brain box) only.
    part = np.ascontiguousarray(logits[:, 2:, 1:, 3:])
    assert np.array_equal(_labels_on_study_grid(part, (2, 1, 3), grid, shape), expected)


def test_no_tumour_gives_background() -> None:
    logits = np.zeros((4, 10, 10, 10), dtype=np.float32)
    logits[0] = 1.0
    labels = _labels_on_study_grid(logits, (0, 0, 0), (10, 10, 10), (20, 20, 20))
    assert labels.shape == (20, 20, 20) and not labels.any()


def test_brain_box_with_margin_and_empty_mask() -> None:
    mask = np.zeros((10, 12, 14), dtype=bool)
    mask[3:5, 4:9, 10] = True
    assert brain_box(mask) == (slice(3, 5), slice(4, 9), slice(10, 11))
    assert brain_box(mask, margin=2) == (slice(1, 7), slice(2, 11), slice(8, 13))
    assert brain_box(np.zeros((3, 4, 5), dtype=bool)) == (slice(0, 3), slice(0, 4), slice(0, 5))
