"""Intensity normalisation: skull-stripped images and images with a noise floor alike."""

from __future__ import annotations

import numpy as np

from models.study_arrays import foreground, normalise_volume


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
