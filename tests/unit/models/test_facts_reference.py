"""The fast tumour facts and normalisation give the results of the slow originals.

``tumour_facts`` works on the tumour's bounding box and the brain's box;
``normalise_volume`` / ``normalised_channels`` on the brain's box. The slow reference
implementations they replaced are kept here and compared on random and synthetic input,
bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from dicom_conversion import MRSequence
from models.errors import EmptyMaskError
from models.facts import MIDLINE_MM, TumourFacts, lobe_by_rule, tumour_facts
from models.lesions import count_lesions
from models.study_arrays import (
    CHANNELS,
    bounding_box,
    foreground,
    normalise_volume,
    normalised_channels,
    voxel_spacing,
)
from tests.unit.models.toy_studies import toy_study

# -- slow references (the implementations before the bounding-box rewrite) --------------


def reference_facts(study: Any, mask: np.ndarray) -> TumourFacts:
    labels = np.asarray(mask)
    tumour = labels > 0
    if not tumour.any():
        raise EmptyMaskError("the tumour mask is empty")
    affine = np.asarray(study.affine, dtype=np.float64)
    voxel_ml = float(np.prod(voxel_spacing(affine))) / 1000.0
    counts = np.bincount(labels[tumour].astype(np.int64), minlength=4)
    necrotic, oedema, enhancing = (float(counts[i]) * voxel_ml for i in (1, 2, 3))
    centroid_vox = np.argwhere(tumour).mean(axis=0)
    ras = affine @ np.append(centroid_vox, 1.0)
    centroid_ras = (float(ras[0]), float(ras[1]), float(ras[2]))
    brain = np.zeros(labels.shape, dtype=bool)
    for array in study.arrays.values():
        brain |= np.asarray(array) > 0
    brain |= tumour
    brain_vox = np.argwhere(brain)
    brain_ras = (affine[:3, :3] @ brain_vox.T).T + affine[:3, 3]
    lo, hi = brain_ras.min(axis=0), brain_ras.max(axis=0)
    mid_x = (lo[0] + hi[0]) / 2.0
    dx = centroid_ras[0] - mid_x
    hemisphere = "midline" if abs(dx) < MIDLINE_MM else ("right" if dx > 0 else "left")
    extent = np.maximum(hi - lo, 1e-6)
    anterior = float((centroid_ras[1] - lo[1]) / extent[1])
    superior = float((centroid_ras[2] - lo[2]) / extent[2])
    # The lesion count is models.lesions' rule, tested on its own in test_lesions.py.
    lesion_count = max(1, count_lesions(tumour, voxel_spacing(affine)))
    return TumourFacts(
        volume_ml=necrotic + oedema + enhancing,
        necrotic_ml=necrotic,
        oedema_ml=oedema,
        enhancing_ml=enhancing,
        core_ml=necrotic + enhancing,
        centroid_ras_mm=centroid_ras,
        centroid_lps_mm=(-centroid_ras[0], -centroid_ras[1], centroid_ras[2]),
        hemisphere=hemisphere,
        lobe=lobe_by_rule(anterior, superior),
        lesion_count=lesion_count,
    )


def reference_normalise(volume: np.ndarray) -> np.ndarray:
    # Which voxels are brain is models.study_arrays.foreground's rule (tested on its own
    # in test_study_arrays.py); this reference checks the statistics and the box.
    data = np.asarray(volume, dtype=np.float32)
    brain = foreground(data)
    if int(brain.sum()) < 10:
        return np.zeros_like(data)
    values = data[brain]
    mean = float(values.mean())
    std = float(values.std())
    if std <= 1e-6:
        std = 1.0
    out = np.zeros_like(data)
    out[brain] = np.clip((values - mean) / std, -5.0, 5.0)
    return out


# -- inputs -------------------------------------------------------------------------


@dataclass
class Study:
    arrays: dict[MRSequence, np.ndarray]
    affine: np.ndarray


def random_study(seed: int, shape: tuple[int, int, int], affine: np.ndarray) -> Study:
    """Random blobs of brain and tumour, some negative intensities, some speckle."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for index, sequence in enumerate(MRSequence.ordered()):
        if index == 3 and seed % 3 == 0:
            continue  # a missing sequence
        smooth = ndimage.gaussian_filter(rng.standard_normal(shape), 2.0)
        volume = np.where(smooth > -0.05, rng.gamma(4.0, 100.0, shape), 0.0)
        volume[rng.random(shape) < 0.01] = -3.0  # resampling ringing
        arrays[sequence] = np.asarray(volume, dtype=np.float32, order="F" if seed % 2 else "C")
    return Study(arrays=arrays, affine=affine)


def random_mask(seed: int, shape: tuple[int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    smooth = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    mask = np.zeros(shape, dtype=np.uint8)
    cut = np.quantile(smooth, 0.97)
    mask[smooth > cut] = rng.integers(1, 4, int(np.sum(smooth > cut)), dtype=np.uint8)
    mask[tuple(rng.integers(0, s, 5) for s in shape)] = 2  # isolated specks
    return mask


def affines() -> list[np.ndarray]:
    plain = np.diag([1.0, 1.0, 1.0, 1.0])
    plain[:3, 3] = (-30.0, -40.0, -20.0)
    flipped = np.diag([-1.2, 0.9, 2.5, 1.0])
    flipped[:3, 3] = (50.0, -10.0, 3.0)
    permuted = np.array(
        [[0.0, 0.0, 1.5, -20.0], [-1.0, 0.0, 0.0, 30.0], [0.0, 2.0, 0.0, -5.0], [0, 0, 0, 1]]
    )
    angle = 0.3
    oblique = np.array(
        [
            [np.cos(angle), -np.sin(angle), 0.0, -30.0],
            [np.sin(angle), np.cos(angle), 0.0, -40.0],
            [0.0, 0.0, 1.2, -20.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    return [plain, flipped, permuted, oblique]


def assert_same_facts(fast: TumourFacts, slow: TumourFacts) -> None:
    assert fast.to_dict() == slow.to_dict()  # exact float equality, not approx


# -- tumour facts -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("which", range(4))
def test_facts_equal_reference_on_random_input(seed: int, which: int) -> None:
    shape = (37, 29, 23)
    study = random_study(seed, shape, affines()[which])
    mask = random_mask(seed, shape)
    assert_same_facts(tumour_facts(study, mask), reference_facts(study, mask))


@pytest.mark.parametrize("kind", ["ring", "solid"])
@pytest.mark.parametrize("centre", [(80.0, 60.0, 64.0), (30.0, 90.0, 20.0), (60.0, 60.0, 60.0)])
def test_facts_equal_reference_on_synthetic_studies(
    kind: str, centre: tuple[float, float, float]
) -> None:
    study = toy_study(spacing=2.0, kind=kind, tumour_centre_mm=centre, seed=3)
    assert study.mask is not None
    assert_same_facts(tumour_facts(study, study.mask), reference_facts(study, study.mask))


def test_facts_equal_reference_at_the_grid_edges_and_for_one_voxel() -> None:
    shape = (20, 18, 16)
    study = random_study(4, shape, affines()[1])
    mask = np.zeros(shape, dtype=np.uint8)
    mask[0, 5, 3] = 3
    assert_same_facts(tumour_facts(study, mask), reference_facts(study, mask))
    mask[19, 17, 15] = 1
    mask[0:3, 0:2, 14:16] = 2
    assert_same_facts(tumour_facts(study, mask), reference_facts(study, mask))
    # A float mask with labels beyond 3 (ignored in the volumes, still tumour).
    floats = mask.astype(np.float64)
    floats[10, 10, 10] = 7.0
    assert_same_facts(tumour_facts(study, floats), reference_facts(study, floats))


def test_facts_equal_reference_with_an_empty_image_and_tumour_outside_the_brain() -> None:
    shape = (24, 24, 24)
    study = random_study(2, shape, affines()[0])
    first = next(iter(study.arrays))
    study.arrays[first] = np.zeros(shape, dtype=np.float32)
    for array in study.arrays.values():
        array[:, :, 18:] = 0.0
    mask = np.zeros(shape, dtype=np.uint8)
    mask[10:14, 10:14, 19:23] = 2  # beyond every image's non-zero voxels
    assert_same_facts(tumour_facts(study, mask), reference_facts(study, mask))


def test_empty_mask_still_raises() -> None:
    study = random_study(1, (10, 10, 10), affines()[0])
    with pytest.raises(EmptyMaskError):
        tumour_facts(study, np.zeros((10, 10, 10), dtype=np.uint8))


# -- bounding boxes -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_bounding_box_matches_argwhere(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((13, 11, 9)) < 0.002 * (seed + 1)
    mask[rng.integers(0, 13), rng.integers(0, 11), rng.integers(0, 9)] = True
    where = np.argwhere(mask)
    box = bounding_box(np.asfortranarray(mask) if seed % 2 else mask)
    assert box == tuple(
        slice(int(lo), int(hi) + 1)
        for lo, hi in zip(where.min(axis=0), where.max(axis=0), strict=True)
    )
    assert bounding_box(np.zeros((4, 4, 4), dtype=bool)) is None


# -- normalisation ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_normalise_volume_equals_reference_bit_for_bit(seed: int) -> None:
    study = random_study(seed, (31, 27, 19), affines()[0])
    for volume in study.arrays.values():
        fast = normalise_volume(volume)
        slow = reference_normalise(volume)
        assert fast.dtype == slow.dtype == np.float32
        assert fast.shape == slow.shape
        np.testing.assert_array_equal(fast.view(np.uint32), slow.view(np.uint32))


@pytest.mark.parametrize(
    "volume",
    [
        np.zeros((5, 6, 7), dtype=np.float32),  # empty brain
        np.full((5, 6, 7), 3.0, dtype=np.float32),  # constant: std 0
        np.arange(60, dtype=np.int16).reshape(3, 4, 5) - 20,  # integers, negatives
        np.linspace(-1.0, 5.0, 48).reshape(6, 8),  # 2-D float64
    ],
    ids=["empty", "constant", "int16", "2d"],
)
def test_normalise_volume_edge_cases_equal_reference(volume: np.ndarray) -> None:
    fast = normalise_volume(volume)
    slow = reference_normalise(volume)
    np.testing.assert_array_equal(fast.view(np.uint32), slow.view(np.uint32))


@pytest.mark.parametrize("missing", [(), ("T2",)])
def test_normalised_channels_equal_reference(missing: tuple[str, ...]) -> None:
    study = toy_study(spacing=3.0, missing=missing, seed=7)
    channels = normalised_channels(study)
    assert channels.shape == (len(CHANNELS), 40, 40, 40)
    for index, channel in enumerate(CHANNELS):
        source = next((a for k, a in study.arrays.items() if k.value == channel), None)
        expected = (
            np.zeros((40, 40, 40), dtype=np.float32)
            if source is None
            else reference_normalise(source)
        )
        np.testing.assert_array_equal(channels[index].view(np.uint32), expected.view(np.uint32))
