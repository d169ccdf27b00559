"""The measured signs worked in the tumour's own box, with numpy erosions, dilations and
an exact centroid, equal bit for bit to the scipy version they replaced (b70405f)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from models.context import brain_mask
from models.morphology import dilated, eroded
from models.signs import (
    CONTACT_MM,
    DEPTH_CAP_MM,
    MIN_COMPONENT_ML,
    WORKING_MM,
    _centroid,
    tumour_signs,
)
from models.study_arrays import bounding_box, normalised_channels, voxel_spacing
from tests.unit.models.toy_studies import toy_study


def _components(mask: np.ndarray, voxel_ml: float) -> tuple[np.ndarray, np.ndarray]:
    labels, n = ndimage.label(mask)
    if n == 0:
        return labels, np.zeros(0)
    return labels, np.bincount(labels.reshape(-1), minlength=n + 1)[1:] * voxel_ml


def _sphericity(component: np.ndarray) -> float:
    volume = int(component.sum())
    if volume == 0:
        return 0.0
    surface = int((component & ~ndimage.binary_erosion(component)).sum())
    return float(np.pi ** (1 / 3) * (6.0 * volume) ** (2 / 3) / max(surface, 1))


def _signs_before(channels: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """``tumour_signs`` as it was up to b70405f (the whole depth box, scipy morphology)."""
    labels = np.asarray(mask)
    tumour_box = bounding_box(labels > 0)
    assert tumour_box is not None
    spacing = voxel_spacing(affine)
    step = np.maximum(1, np.round(WORKING_MM / spacing)).astype(int)
    margin = np.ceil(DEPTH_CAP_MM / spacing).astype(int) + 1
    box = tuple(
        slice(max(0, s.start - int(m)), min(n, s.stop + int(m)), int(k))
        for s, m, n, k in zip(tumour_box, margin, labels.shape, step, strict=True)
    )
    grid = spacing * step
    voxel_ml = float(np.prod(grid)) / 1000.0
    local = labels[box]
    whole = local > 0
    core = (local == 1) | (local == 3)
    volume = float(whole.sum()) * voxel_ml
    core_ml = float(core.sum()) * voxel_ml
    enhancing_ml = float((local == 3).sum()) * voxel_ml
    necrotic_ml = float((local == 1).sum()) * voxel_ml
    oedema_ml = float((local == 2).sum()) * voxel_ml
    _, lesion_sizes = _components(whole, voxel_ml)
    target = core if core.any() else whole
    core_labels, core_sizes = _components(target, voxel_ml)
    largest = core_labels == (1 + int(np.argmax(core_sizes))) if core_sizes.size else target
    rim = ndimage.binary_dilation(target) & ~target
    rim_oedema = float((local[rim] == 2).mean()) if rim.any() else 0.0
    head = np.any(channels[(slice(None), *box)] != 0, axis=0) | whole
    inner = ndimage.binary_erosion(head, border_value=1)
    surface = np.argwhere(head & ~inner) * grid
    points = np.argwhere(target) * grid
    if len(surface) == 0:
        core_depth = np.full(len(points), DEPTH_CAP_MM)
    else:
        distance, _ = cKDTree(surface).query(points, distance_upper_bound=DEPTH_CAP_MM)
        core_depth = np.minimum(np.asarray(distance, dtype=np.float64), DEPTH_CAP_MM)
    centroid_voxel = np.asarray(ndimage.center_of_mass(whole), dtype=np.float64)
    centroid_voxel = centroid_voxel * step + np.array([s.start for s in box])
    sub = channels[(slice(None), *(slice(None, None, int(k)) for k in step))]
    head_box = bounding_box(np.any(sub != 0, axis=0))
    assert head_box is not None
    centre = np.array(
        [(b.start + b.stop - 1) / 2.0 * k for b, k in zip(head_box, step, strict=True)]
    )
    offset = affine[:3, :3] @ (centroid_voxel - centre)
    return np.array(
        [
            np.log1p(volume),
            np.log1p(core_ml),
            enhancing_ml / core_ml if core_ml > 0 else 0.0,
            necrotic_ml / volume if volume > 0 else 0.0,
            np.log1p(oedema_ml / max(core_ml, 0.01)),
            rim_oedema,
            np.log(max(1, int((lesion_sizes >= MIN_COMPONENT_ML).sum()))),
            np.log(max(1, int((core_sizes >= MIN_COMPONENT_ML).sum()))),
            _sphericity(largest),
            float((core_depth <= CONTACT_MM).mean()),
            float(np.median(core_depth)),
            float(core_depth.min()),
            abs(float(offset[0])),
            *offset.tolist(),
        ],
        dtype=np.float64,
    )


@pytest.mark.parametrize(
    "options",
    [
        {"spacing": 1.0, "tumour_radius_mm": 18.0},
        {"spacing": 1.0, "kind": "solid", "tumour_centre_mm": (60.0, 60.0, 104.0)},
        {"spacing": 1.0, "tumour_centre_mm": (20.0, 60.0, 60.0), "tumour_radius_mm": 9.0},
        {"spacing": 2.0, "tumour_centre_mm": (60.0, 60.0, 60.0), "tumour_radius_mm": 6.0},
    ],
)
def test_signs_equal_the_whole_box_scipy_version(options: dict[str, object]) -> None:
    """Generated studies (1 and 2 mm; deep, superficial, at the edge of the head), the
    given mask and a ragged one (specks, a second lesion, labels knocked out). The form
    signs appended later (the last five) are not part of the whole-box version."""
    study = toy_study(**options)  # type: ignore[arg-type]
    assert study.mask is not None
    channels = normalised_channels(study)
    ragged = study.mask.copy()
    rng = np.random.default_rng(3)
    ragged[rng.random(ragged.shape) < 0.15] = 0
    ragged[(rng.random(ragged.shape) < 0.002) & (channels[0] != 0)] = 3
    ragged[40:46, 80:84, 30:33] = 2
    for mask in (study.mask, ragged):
        expected = _signs_before(channels, mask, study.affine)
        first = len(expected)
        whole = tumour_signs(channels, mask, study.affine)
        assert whole[:first].tobytes() == expected.tobytes()
        brain = brain_mask(channels)
        found = tumour_signs(channels, mask, study.affine, brain=brain)
        assert found.tobytes() == whole.tobytes()


@pytest.mark.parametrize("seed", range(6))
def test_morphology_and_centroid_equal_scipys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random(tuple(int(n) for n in rng.integers(1, 12, 3))) < rng.uniform(0.2, 0.9)
    assert np.array_equal(eroded(mask, border=False), ndimage.binary_erosion(mask))
    assert np.array_equal(eroded(mask, border=True), ndimage.binary_erosion(mask, border_value=1))
    assert np.array_equal(dilated(mask), ndimage.binary_dilation(mask))
    for iterations in (0, 2, 3):
        expected = ndimage.binary_dilation(mask, iterations=iterations) if iterations else mask
        assert np.array_equal(dilated(mask, iterations), expected)
    if mask.any():
        corner = rng.integers(0, 200, 3)
        padded = np.zeros(tuple(int(n) for n in np.add(mask.shape, corner)), dtype=bool)
        padded[corner[0] :, corner[1] :, corner[2] :] = mask
        expected = np.asarray(ndimage.center_of_mass(padded), dtype=np.float64)
        assert _centroid(mask, corner).tobytes() == expected.tobytes()
