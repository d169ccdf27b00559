"""Lesion counting: separate masses, not islands of one (models.lesions)."""

from __future__ import annotations

import numpy as np
import pytest

from models.lesions import MIN_LESION_ML, count_lesions


def _balls(
    shape_mm: float,
    spacing_mm: float,
    centres_mm: list[tuple[float, float, float]],
    radius_mm: float,
) -> np.ndarray:
    n = round(shape_mm / spacing_mm)
    axis = (np.arange(n) + 0.5) * spacing_mm
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    mask = np.zeros((n, n, n), dtype=bool)
    for cx, cy, cz in centres_mm:
        mask |= (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius_mm**2
    return mask


def test_empty_mask_has_no_lesion() -> None:
    assert count_lesions(np.zeros((20, 20, 20), dtype=bool), np.ones(3)) == 0


@pytest.mark.parametrize("spacing", [1.0, 2.0])
def test_distant_masses_are_separate_lesions(spacing: float) -> None:
    centres = [(30.0, 60.0, 60.0), (90.0, 60.0, 60.0), (60.0, 30.0, 90.0)]
    mask = _balls(120.0, spacing, centres, 6.0)
    assert count_lesions(mask, np.full(3, spacing)) == 3


@pytest.mark.parametrize("spacing", [1.0, 2.0])
def test_parts_a_few_millimetres_apart_are_one_lesion(spacing: float) -> None:
    # Two 6 mm balls whose surfaces are 4 mm apart (a sulcus through oedema, a
    # satellite): one lesion; 16 mm apart: two.
    close = _balls(120.0, spacing, [(50.0, 60.0, 60.0), (66.0, 60.0, 60.0)], 6.0)
    far = _balls(120.0, spacing, [(50.0, 60.0, 60.0), (78.0, 60.0, 60.0)], 6.0)
    assert count_lesions(close, np.full(3, spacing)) == 1
    assert count_lesions(far, np.full(3, spacing)) == 2


def test_a_mass_cut_by_a_thin_gap_is_one_lesion() -> None:
    mask = _balls(80.0, 1.0, [(40.0, 40.0, 40.0)], 15.0)
    mask[:, 39:41, :] = False  # a 2 mm cleft through the middle
    assert count_lesions(mask, np.ones(3)) == 1


def test_specks_do_not_count_but_a_tiny_tumour_is_still_one() -> None:
    mask = _balls(120.0, 1.0, [(30.0, 60.0, 60.0), (90.0, 60.0, 60.0)], 6.0)
    mask[5:7, 5:7, 5:7] = True  # 8 microlitres, far from both
    assert count_lesions(mask, np.ones(3)) == 2
    tiny = np.zeros((60, 60, 60), dtype=bool)
    tiny[30:33, 30:33, 30:33] = True  # 27 microlitres, below the minimum
    assert 0.027 < MIN_LESION_ML
    assert count_lesions(tiny, np.ones(3)) == 1


def test_anisotropic_thick_slices() -> None:
    # 1 x 1 x 5 mm voxels: the working grid keeps every slice along the thick axis.
    iso = _balls(120.0, 1.0, [(30.0, 60.0, 60.0), (90.0, 60.0, 60.0)], 8.0)
    thick = iso[:, :, 2::5]
    assert count_lesions(thick, np.array([1.0, 1.0, 5.0])) == 2


def _count_before(tumour: np.ndarray, spacing: np.ndarray, merge_mm: float = 4.0) -> int:
    """``count_lesions`` up to b70405f (scipy's binary dilation)."""
    from scipy import ndimage

    from models.study_arrays import bounding_box

    step = np.maximum(1, np.round(2.0 / spacing)).astype(int)
    grown_by = round(merge_mm / 2.0)
    box = bounding_box(tumour)
    if box is None:
        return 0
    sub = tuple(
        slice(
            max(0, b.start - (grown_by + 1) * int(k)) // int(k) * int(k),
            b.stop + (grown_by + 1) * int(k),
            int(k),
        )
        for b, k in zip(box, step, strict=True)
    )
    local = np.asarray(tumour[sub], dtype=bool)
    if not local.any():
        return 1
    grown = ndimage.binary_dilation(local, iterations=grown_by) if grown_by > 0 else local
    parts, n = ndimage.label(grown)
    voxel_ml = float(np.prod(spacing * step)) / 1000.0
    sizes = np.bincount(parts[local], minlength=n + 1)[1:] * voxel_ml
    return max(1, int(np.sum(sizes >= MIN_LESION_ML)))


@pytest.mark.parametrize("seed", range(6))
def test_the_count_by_shifts_equals_scipys_dilation(seed: int) -> None:
    """Scattered parts at every distance from each other, 1 and 2 mm, merges of 0-8 mm."""
    rng = np.random.default_rng(seed)
    spacing = np.array([1.0, 1.0, 1.0]) * (1 + seed % 2)
    centres = [tuple(float(v) for v in rng.uniform(10, 90, 3)) for _ in range(8)]
    mask = _balls(100.0, float(spacing[0]), centres, float(rng.uniform(2.0, 6.0)))  # type: ignore[arg-type]
    mask |= rng.random(mask.shape) < 0.0005
    for merge_mm in (0.0, 2.0, 4.0, 8.0):
        found = count_lesions(mask, spacing, merge_mm=merge_mm)
        assert found == _count_before(mask, spacing, merge_mm), merge_mm
