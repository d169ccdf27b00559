"""The context planes from the tumour's box and the brain's projections, and the tumour
slices with a brain mask passed in, equal bit for bit what they were before (b70405f)."""

from __future__ import annotations

import numpy as np
import pytest

from models.context import CONTEXT_PIXEL_MM, CONTEXT_SIZE_PX, brain_mask, context_planes
from models.plane_sampling import crop_at
from models.slices import select_tumour_slices
from models.study_arrays import normalised_channels
from tests.unit.models.toy_studies import toy_study


def _planes_before(
    tumour: np.ndarray, brain: np.ndarray, spacing: np.ndarray, slice_index: int, margin: int
) -> np.ndarray:
    """``context_planes`` up to b70405f: every projection over the whole grid."""
    brain = brain | tumour
    centre = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        where = np.flatnonzero(brain.any(axis=others))
        centre.append(float((where[0] + where[-1]) / 2.0))
    size = CONTEXT_SIZE_PX + 2 * margin
    axial = np.stack(
        [tumour.any(axis=2), brain.any(axis=2), tumour[:, :, slice_index], brain[:, :, slice_index]]
    ).astype(np.float32)
    coronal = np.stack([tumour.any(axis=1), brain.any(axis=1)]).astype(np.float32)
    xy = (float(spacing[0]), float(spacing[1]))
    xz = (float(spacing[0]), float(spacing[2]))
    return np.concatenate(
        [
            crop_at(axial, (centre[0], centre[1]), xy, size_px=size, pixel_mm=CONTEXT_PIXEL_MM),
            crop_at(coronal, (centre[0], centre[2]), xz, size_px=size, pixel_mm=CONTEXT_PIXEL_MM),
        ]
    )


@pytest.mark.parametrize("seed", range(8))
def test_planes_equal_the_whole_grid_version(seed: int) -> None:
    """Random brains and tumours, tumour outside the brain, at the grid's edge."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(20, 70, 3))
    brain = np.zeros(shape, dtype=bool)
    lo = [int(rng.integers(0, n // 3)) for n in shape]
    brain[lo[0] : -lo[0] - 1, lo[1] : -lo[1] - 1, lo[2] : -lo[2] - 1] = True
    brain &= rng.random(shape) < 0.95
    tumour = (rng.random(shape) < 0.002) | (rng.random(shape) < 0.02) & np.roll(brain, 5, 0)
    tumour[0, int(rng.integers(0, shape[1])), -1] = bool(seed % 2)
    spacing = rng.uniform(0.8, 2.5, 3)
    level = int(rng.integers(0, shape[2]))
    for margin in (0, 3):
        expected = _planes_before(tumour, brain, spacing, level, margin)
        found = context_planes(tumour, brain, spacing, level, margin_px=margin)
        assert found.tobytes() == expected.tobytes()


@pytest.mark.parametrize("variant", ["crop", "masked"])
def test_slices_of_a_1mm_study_with_and_without_the_brain_passed(variant: str) -> None:
    study = toy_study(spacing=1.0, tumour_centre_mm=(40.0, 70.0, 55.0), tumour_radius_mm=15.0)
    assert study.mask is not None
    channels = normalised_channels(study)
    brain = brain_mask(channels)
    alone = select_tumour_slices(study, study.mask, channels=channels, variant=variant)
    shared = select_tumour_slices(
        study, study.mask, channels=channels, variant=variant, brain=brain
    )
    tumour = study.mask > 0
    level = round(
        float((tumour.sum(axis=(0, 1)) * np.arange(tumour.shape[2])).sum() / tumour.sum())
    )
    expected = _planes_before(tumour, brain, np.array([1.0, 1.0, 1.0]), level, 0)
    assert alone.context.tobytes() == expected.tobytes()
    for field in ("crops", "context", "indices", "areas_mm2", "centroid_ras_mm", "centre_voxel"):
        assert np.asarray(getattr(alone, field)).tobytes() == (
            np.asarray(getattr(shared, field)).tobytes()
        ), field
