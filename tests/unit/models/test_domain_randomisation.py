"""Label maps and the random-contrast renderer: random, but never against the radiology."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.errors import TrainingDataError
from models.study_arrays import normalised_channels
from models.training.domain_randomisation import render, sample_intensities
from models.training.tissue_labels import (
    CSF,
    ENHANCING,
    GREY,
    N_LABELS,
    NECROTIC,
    OEDEMA,
    VESSEL,
    WHITE,
    label_shares,
    tissue_labels,
)
from tests.unit.models.toy_studies import toy_study


def _layered_channels() -> tuple[np.ndarray, np.ndarray]:
    """Four channels with three normal tissues (T1 CSF < grey < white) and a tumour."""
    shape = (30, 30, 12)
    t1 = np.zeros(shape, np.float32)
    t1[:10], t1[10:20], t1[20:] = 0.2, 0.6, 1.0
    channels = np.stack([t1, t1.copy(), 1.2 - t1, 0.8 - 0.5 * t1])
    channels += np.random.default_rng(0).normal(0, 0.02, channels.shape).astype(np.float32)
    mask = np.zeros(shape, np.uint8)
    mask[12:18, 12:18, 4:8] = 2
    mask[14:16, 14:16, 5:7] = 3
    channels[1][22:24, 2:4, 2:4] = 3.5  # enhancing outside the tumour: dura / vessel
    return channels, mask


def test_tissue_labels_split_normal_brain_by_t1_and_keep_tumour_compartments() -> None:
    channels, mask = _layered_channels()
    labels = tissue_labels(channels, mask)
    assert np.all(labels[:10][mask[:10] == 0] == CSF)
    assert np.all(labels[10:12] == GREY)
    assert np.all(labels[25:][:, 10:] == WHITE)
    assert np.all(labels[mask == 2] == OEDEMA)
    assert np.all(labels[mask == 3] == ENHANCING)
    assert np.all(labels[22:24, 2:4, 2:4] == VESSEL)
    shares = label_shares(labels)
    assert shares[0] == 0.0
    assert shares.sum() == pytest.approx(1.0)


def test_tissue_labels_of_a_study_without_brain_is_an_error() -> None:
    with pytest.raises(TrainingDataError):
        tissue_labels(np.zeros((4, 5, 5, 5), np.float32), np.zeros((5, 5, 5), np.uint8))


def test_tissue_labels_of_a_toy_study_hold_its_mask() -> None:
    study = toy_study()
    assert study.mask is not None
    labels = tissue_labels(normalised_channels(study), study.mask)
    assert np.all(labels[study.mask == 1] == NECROTIC)
    assert set(np.unique(labels[study.mask == 0])) <= {0, CSF, GREY, WHITE, VESSEL}


def test_sampled_intensities_keep_every_sequence_s_orderings() -> None:
    gen = torch.Generator().manual_seed(1)
    mu = sample_intensities(2000, gen, torch.device("cpu"))
    t1, t1c, t2, flair = mu[:, 0], mu[:, 1], mu[:, 2], mu[:, 3]
    assert torch.all(t1[:, CSF] < t1[:, GREY]) and torch.all(t1[:, GREY] < t1[:, WHITE])
    assert torch.all(t2[:, WHITE] < t2[:, GREY]) and torch.all(t2[:, GREY] < t2[:, CSF])
    assert torch.all(flair[:, CSF] < flair[:, WHITE])
    assert torch.all(flair[:, WHITE] < flair[:, GREY])
    # Enhancement only after contrast, above white matter; oedema brightest on FLAIR.
    assert torch.all(t1c[:, ENHANCING] > t1c[:, WHITE])
    assert torch.all(t1c[:, ENHANCING] > t1[:, ENHANCING])
    assert torch.all(flair[:, OEDEMA] > flair[:, GREY])
    assert torch.all(t2[:, OEDEMA] > t2[:, GREY])
    assert torch.all(t1[:, NECROTIC] < t1[:, GREY])
    assert torch.all(mu[:, :, 0] == 0)
    # ...and everything else varies: the grey-white contrast spans a wide range.
    contrast = (t1[:, WHITE] - t1[:, GREY]) / t1[:, WHITE]
    assert float(contrast.min()) < 0.15 and float(contrast.max()) > 0.5


def _label_map(batch: int, size: int, dims: int) -> torch.Tensor:
    labels = torch.full((batch, *(size,) * dims), WHITE, dtype=torch.int64)
    index = (slice(None),) + (slice(size // 4, size // 2),) * dims
    labels[index] = GREY
    labels[(slice(None),) + (slice(0, 3),) * dims] = 0
    labels[(slice(None),) + (slice(size // 2, 3 * size // 4),) * dims] = ENHANCING
    return labels


@pytest.mark.parametrize("dims", [2, 3])
def test_rendered_images_are_normalised_brains_with_the_labels_signs(dims: int) -> None:
    size = 32 if dims == 2 else 20
    labels = _label_map(6, size, dims)
    gen = torch.Generator().manual_seed(3)
    images, hard = render(labels, gen)
    assert images.shape == (6, 4, *(size,) * dims)
    assert hard.shape == labels.shape
    brain = hard > 0
    assert torch.all(images[~brain[:, None].expand_as(images)] == 0)
    inside = images.transpose(0, 1)[:, brain]  # [4, voxels]
    assert torch.allclose(inside.mean(dim=1), torch.zeros(4), atol=0.25)
    enhancing = hard == ENHANCING
    white = hard == WHITE
    t1c = images[:, 1]
    # Enhancing tissue is brighter than white matter after contrast in every image.
    for i in range(6):
        assert float(t1c[i][enhancing[i]].mean()) > float(t1c[i][white[i]].mean())


def test_two_renderings_of_one_label_map_differ_and_a_seed_repeats() -> None:
    labels = _label_map(2, 32, 2)
    a, _ = render(labels, torch.Generator().manual_seed(5))
    b, _ = render(labels, torch.Generator().manual_seed(5))
    c, _ = render(labels, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_crops_with_shares_are_normalised_like_a_whole_brain() -> None:
    labels = _label_map(8, 32, 2)
    shares = torch.from_numpy(label_shares(labels.numpy())).expand(8, N_LABELS)
    images, hard = render(labels, torch.Generator().manual_seed(7), shares=shares)
    inside = images.transpose(0, 1)[:, hard > 0]
    assert torch.all(inside.mean(dim=1).abs() < 0.6)
    assert torch.all((inside.std(dim=1) > 0.4) & (inside.std(dim=1) < 2.0))
