"""The segmenter's partial interpolation equals a full trilinear interpolation + arg-max,
and its slab-by-slab interpolation equals the whole-box one it replaced, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.segmenter import (
    OnnxSegmenter,
    _labels_on_study_grid,
    _source_indices,
    brain_box,
    class_argmax,
    pad_to_multiple,
    resample_channels,
    segmenter_grid_shape,
)
from models.study_arrays import normalised_channels, voxel_spacing
from tests.unit.models.toy_studies import toy_study


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


def _labels_before_slabs(
    logits: np.ndarray, offset: tuple[int, int, int], grid: tuple[int, ...], shape: tuple[int, ...]
) -> np.ndarray:
    """``_labels_on_study_grid`` as it was up to b70405f (the whole box, np.argmax)."""
    labels = np.zeros(shape, dtype=np.uint8)
    coarse = np.argmax(logits, axis=0) > 0
    if not coarse.any():
        return labels
    box = brain_box(coarse, margin=2)
    part = logits[(slice(None), *box)]
    target: list[slice] = []
    for axis in range(3):
        lower, upper, weight = _source_indices(int(shape[axis]), int(grid[axis]))
        start = offset[axis] + (box[axis].start or 0)
        stop = start + part.shape[axis + 1]
        inside = np.flatnonzero((lower >= start) & (upper < stop))
        if inside.size == 0:
            return labels
        lo, hi = int(inside[0]), int(inside[-1]) + 1
        target.append(slice(lo, hi))
        view = [1, 1, 1, 1]
        view[axis + 1] = hi - lo
        w = weight[lo:hi].reshape(view)
        part = (
            np.take(part, lower[lo:hi] - start, axis=axis + 1) * (1.0 - w)
            + np.take(part, upper[lo:hi] - start, axis=axis + 1) * w
        )
    labels[tuple(target)] = np.argmax(part, axis=0).astype(np.uint8)
    return labels


@pytest.mark.parametrize("trial", range(16))
def test_slabs_give_the_labels_of_the_whole_box_bit_for_bit(trial: int) -> None:
    """Scattered tumour voxels, near-ties between classes (where float32 rounding could
    tip a voxel), tumour at the grid's edges, and now and then a NaN score."""
    rng = np.random.default_rng(100 + trial)
    grid = tuple(int(v) for v in rng.integers(12, 40, 3))
    shape = tuple(int(g * rng.uniform(1.0, 2.6)) for g in grid)
    logits = rng.normal(0.0, 1.0, (4, *grid)).astype(np.float32)
    logits[0] += np.float32(rng.uniform(1.0, 4.0))  # mostly background, tumour scattered
    ties = rng.random(grid) < 0.2
    logits[2][ties] = logits[0][ties] * np.float32(1 + rng.choice([-1e-7, 0.0, 1e-7]))
    if trial % 4 == 3:
        where = (int(rng.integers(1, 4)), *(int(rng.integers(0, g)) for g in grid))
        logits[where] = np.nan
    offset = tuple(int(v) for v in rng.integers(0, 3, 3))
    part = np.ascontiguousarray(logits[:, offset[0] :, offset[1] :, offset[2] :])
    expected = _labels_before_slabs(part, offset, grid, shape)  # type: ignore[arg-type]
    assert np.array_equal(_labels_on_study_grid(part, offset, grid, shape), expected)  # type: ignore[arg-type]


def test_class_argmax_is_numpys_argmax() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(-2, 3, (4, 30, 20, 10)).astype(np.float32)  # many exact ties
    assert np.array_equal(class_argmax(scores), np.argmax(scores, axis=0))
    scores[2, 3, 4, 5] = np.nan
    scores[3, 0, 0, 0] = np.nan
    assert np.array_equal(class_argmax(scores), np.argmax(scores, axis=0))


def test_segmenting_a_1mm_study_gives_the_whole_box_labels() -> None:
    """The shipped segmenter's scores on a generated 1 mm study, labelled both ways."""
    study = toy_study(spacing=1.0, tumour_centre_mm=(70.0, 55.0, 60.0), tumour_radius_mm=16.0)
    channels = normalised_channels(study)
    grid = segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    small = resample_channels(channels, grid)
    box = brain_box(np.any(small != 0, axis=0))
    padded, valid = pad_to_multiple(small[(slice(None), *box)])
    segmenter = OnnxSegmenter.load(None, threads=1)
    logits = np.ascontiguousarray(
        segmenter._run(padded[None])[0][:, : valid[0], : valid[1], : valid[2]]
    )
    offset = (box[0].start or 0, box[1].start or 0, box[2].start or 0)
    expected = _labels_before_slabs(logits, offset, grid, channels.shape[1:])
    assert (expected > 0).sum() > 1000
    assert np.array_equal(_labels_on_study_grid(logits, offset, grid, channels.shape[1:]), expected)
