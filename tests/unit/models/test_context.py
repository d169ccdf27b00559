"""Whole-brain context planes: lesion count and position, flips, margins, alignment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from models import EmptyMaskError, select_tumour_slices
from models.context import (
    CONTEXT_CHANNELS,
    CONTEXT_PIXEL_MM,
    CONTEXT_SIZE_PX,
    brain_mask,
    context_planes,
)
from models.study_arrays import normalised_channels
from models.training.augment import augment_crops
from tests.unit.models.toy_studies import toy_study

SPACING = np.array([2.0, 2.0, 2.0])


def _brain_with_lesions(centres: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    grid = np.indices((60, 70, 50)).transpose(1, 2, 3, 0)
    brain = np.linalg.norm((grid - [30, 35, 25]) / [26, 31, 21], axis=-1) <= 1.0
    tumour = np.zeros(brain.shape, dtype=bool)
    for centre in centres:
        tumour |= np.linalg.norm(grid - centre, axis=-1) <= 3
    return tumour, brain


def _blobs(plane: np.ndarray) -> int:
    return int(ndimage.label(plane > 0.5)[1])


def test_planes_show_every_lesion_and_the_brain() -> None:
    tumour, brain = _brain_with_lesions([(15, 20, 25), (45, 50, 15), (40, 20, 35)])
    planes = context_planes(tumour, brain, SPACING, slice_index=25)
    assert planes.shape == (CONTEXT_CHANNELS, CONTEXT_SIZE_PX, CONTEXT_SIZE_PX)
    assert planes.dtype == np.float32
    assert _blobs(planes[0]) == 3  # all lesions seen from above
    assert _blobs(planes[2]) == 1  # only the lesion in slice 25
    assert _blobs(planes[4]) == 3  # all lesions seen from the front
    # the brain fills its field: 120 x 140 mm of the 192 mm square
    brain_area_mm2 = planes[1].sum() * CONTEXT_PIXEL_MM**2
    assert brain_area_mm2 == pytest.approx(np.pi * 52 * 62, rel=0.05)
    # the tumour in the crop slice lies inside that slice's brain
    assert np.all(planes[3][planes[2] > 0.5] > 0.5)


def test_planes_are_centred_on_the_brain_not_the_tumour() -> None:
    tumour_a, brain = _brain_with_lesions([(15, 35, 25)])
    tumour_b, _ = _brain_with_lesions([(45, 35, 25)])
    a = context_planes(tumour_a, brain, SPACING, 25)
    b = context_planes(tumour_b, brain, SPACING, 25)
    np.testing.assert_array_equal(a[1], b[1])  # same brain, same place
    # mirrored lesions give mirrored planes (the brain is symmetric about x = 30)
    np.testing.assert_allclose(a[0], b[0][::-1, :], atol=1e-6)


def test_margin_widens_the_field_around_the_same_centre() -> None:
    tumour, brain = _brain_with_lesions([(15, 20, 25)])
    plain = context_planes(tumour, brain, SPACING, 25)
    wide = context_planes(tumour, brain, SPACING, 25, margin_px=4)
    assert wide.shape[-1] == CONTEXT_SIZE_PX + 8
    np.testing.assert_allclose(wide[:, 4:-4, 4:-4], plain, atol=1e-6)


def test_empty_tumour_is_refused() -> None:
    tumour, brain = _brain_with_lesions([])
    with pytest.raises(EmptyMaskError):
        context_planes(tumour, brain, SPACING, 25)


def test_slices_carry_the_context_at_the_tumour_centroid_level() -> None:
    study = toy_study()
    assert study.mask is not None
    chosen = select_tumour_slices(study, study.mask)
    channels = normalised_channels(study)
    tumour = study.mask > 0
    level = round(float(np.argwhere(tumour)[:, 2].mean()))
    expected = context_planes(tumour, brain_mask(channels), np.array([2.0, 2.0, 2.0]), level)
    np.testing.assert_array_equal(chosen.context, expected)
    # the context's tumour side matches the crop's: both planes run along X first
    assert (study.mask > 0)[: study.mask.shape[0] // 2].sum() < (study.mask > 0).sum() / 2
    half = CONTEXT_SIZE_PX // 2
    assert chosen.context[0, half:].sum() > chosen.context[0, :half].sum()


def test_augmentation_flips_crop_and_context_together() -> None:
    rng = np.random.default_rng(3)
    # a crop and context marked on their "right" half only (first axis, high end)
    crops = np.zeros((40, 4, 80, 80), dtype=np.float32)
    crops[:, :, 40:, :] = 1.0
    context = np.zeros((40, CONTEXT_CHANNELS, 72, 72), dtype=np.float32)
    context[:, :, 36:, :] = 1.0
    out, planes = augment_crops(crops, context, rng, dropout=0.0, context_dropout=0.0)
    assert out.shape == (40, 4, 64, 64) and planes.shape == (40, CONTEXT_CHANNELS, 64, 64)
    crop_right = out[:, 0, 32:].mean(axis=(1, 2)) > out[:, 0, :32].mean(axis=(1, 2))
    context_right = planes[:, 0, 32:].mean(axis=(1, 2)) > planes[:, 0, :32].mean(axis=(1, 2))
    np.testing.assert_array_equal(crop_right, context_right)
    assert 0 < crop_right.sum() < 40  # some flipped, some not
    _, blanked = augment_crops(crops, context, rng, dropout=0.0, context_dropout=1.0)
    assert not blanked.any()


def test_rotation_turns_the_crop_but_not_the_context() -> None:
    rng = np.random.default_rng(4)
    # crops marked in their top band only; context likewise
    crops = np.zeros((60, 4, 80, 80), dtype=np.float32)
    crops[:, :, :, :30] = 1.0
    context = np.zeros((60, CONTEXT_CHANNELS, 72, 72), dtype=np.float32)
    context[:, :, :, :30] = 1.0
    out, planes = augment_crops(crops, context, rng, dropout=0.0, context_dropout=0.0, rotate=True)
    band_moved = out[:, 0, :, :8].mean(axis=(1, 2)) < 0.5
    assert 0 < band_moved.sum() < 60  # some turned, some not
    np.testing.assert_array_equal(planes[:, :, :, :8] != 0, np.ones_like(planes[:, :, :, :8], bool))
    assert not planes[:, :, :, -8:].any()
    # without rotate, the band never leaves its side (flips are along the other axis)
    still, _ = augment_crops(crops, context, np.random.default_rng(4), dropout=0.0)
    assert (still[:, 0, :, :8] != 0).all()
