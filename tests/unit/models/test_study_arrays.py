"""Intensity normalisation: skull-stripped images and images with a noise floor alike,
and the in-place normalisation equal to the copied-box one it replaced."""

from __future__ import annotations

import numpy as np

from models.study_arrays import bounding_box, foreground, normalise_volume
from tests.unit.models.toy_studies import toy_study


def _head(noise_floor: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    grid = np.indices((48, 48, 40)).transpose(1, 2, 3, 0)
    brain = np.linalg.norm(grid - [24, 24, 20], axis=-1) < 16
    ventricle = np.linalg.norm(grid - [24, 24, 20], axis=-1) < 4
    volume = np.where(brain, 600.0, 0.0) + rng.normal(0, 20, brain.shape) * brain
    volume[ventricle] = 150.0
    if noise_floor:
        volume = volume + np.abs(rng.normal(0, noise_floor, brain.shape))
    return volume.astype(np.float32), brain


def test_a_zero_background_is_kept_exactly_as_before() -> None:
    volume, _ = _head(0.0)
    assert np.array_equal(foreground(volume), volume > 0)
    normalised = normalise_volume(volume)
    inside = volume > 0
    expected = np.clip((volume - volume[inside].mean()) / volume[inside].std(), -5, 5)
    assert np.allclose(normalised[inside], expected[inside], atol=1e-5)
    assert np.all(normalised[~inside] == 0)


def test_a_noise_floor_is_background_and_dark_csf_stays_brain() -> None:
    volume, brain = _head(30.0)
    mask = foreground(volume)
    assert (mask == brain).mean() > 0.99
    normalised = normalise_volume(volume)
    assert np.all(normalised[~mask] == 0)
    assert abs(float(normalised[mask].mean())) < 0.1  # clipping at +-5 shifts it a little


def test_sequences_normalised_side_by_side_equal_one_by_one() -> None:
    """A study big enough for threads gives, bit for bit, each sequence normalised alone."""
    from dataclasses import dataclass

    from models.study_arrays import CHANNELS, normalised_channels

    @dataclass
    class Study:
        arrays: dict[str, np.ndarray]
        affine: np.ndarray

    rng = np.random.default_rng(1)
    arrays = {
        name: np.where(
            rng.random((112, 112, 96)) > 0.3, rng.normal(500, 80, (112, 112, 96)), 0
        ).astype(np.float32)
        for name in CHANNELS[:3]  # one sequence missing: its channel stays zeros
    }
    out = normalised_channels(Study(arrays, np.eye(4)))
    for index, name in enumerate(CHANNELS):
        expected = normalise_volume(arrays[name]) if name in arrays else np.zeros((112, 112, 96))
        assert np.array_equal(out[index], expected), name


def _normalised_before_b70405f(data: np.ndarray) -> np.ndarray:
    """``normalise_volume`` up to b70405f: the brain's box copied, worked, written back."""
    out = np.zeros(data.shape, dtype=np.float32)
    brain = foreground(data)
    if np.count_nonzero(brain) < 10:
        return out
    box = bounding_box(brain) if brain.ndim == 3 else None
    if box is None:
        box = tuple(slice(None) for _ in range(brain.ndim))
    region = np.array(data[box], dtype=np.float32, order="C", copy=True)
    inside = brain[box]
    values = region[inside]
    mean = float(values.mean())
    std = float(values.std())
    if std <= 1e-6:
        std = 1.0
    np.subtract(region, mean, out=region)
    np.divide(region, std, out=region)
    np.clip(region, -5.0, 5.0, out=region)
    region[~inside] = 0.0
    out[box] = region
    return out


def test_normalising_in_place_gives_the_copied_box_bit_for_bit() -> None:
    """A generated 1 mm study (four sequences, a noise floor on one), a 2-D slice, a
    constant image and an all but empty one: the same float32 bits as before."""
    study = toy_study(spacing=1.0, tumour_radius_mm=18.0)
    volumes = [np.asarray(v, dtype=np.float32) for v in study.arrays.values()]
    volumes.append(_head(30.0, seed=3)[0])
    volumes.append(volumes[0][:, :, 60].copy())
    volumes.append(np.where(volumes[0] > 0, np.float32(7.0), np.float32(0.0)))
    sparse = np.zeros((20, 20, 20), dtype=np.float32)
    sparse[3, 4, 5:12] = 1.0
    volumes.append(sparse)
    for volume in volumes:
        new, old = normalise_volume(volume), _normalised_before_b70405f(volume)
        assert new.dtype == old.dtype and new.tobytes() == old.tobytes()
    assert normalise_volume(volumes[0]).any()
