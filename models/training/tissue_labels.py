"""Label maps of any labelled study, for rendering training images with random contrasts.

Domain randomisation (SynthSeg, Billot et al., Medical Image Analysis 2023) renders every
training image from a label map with random intensities. Our label maps are made from
the study itself, so they exist for every labelled folder whatever generator (or
scanner) made it: normal brain is split into three classes by a 3-means of its T1-like
intensity (CSF < grey < white matter), voxels that enhance outside the tumour (dura,
vessels, choroid plexus) form a fourth, and the tumour keeps its BraTS compartments.
"""

from __future__ import annotations

import numpy as np

from models.errors import TrainingDataError

__all__ = [
    "CSF",
    "ENHANCING",
    "GREY",
    "LABEL_NAMES",
    "NECROTIC",
    "N_LABELS",
    "OEDEMA",
    "VESSEL",
    "WHITE",
    "label_shares",
    "tissue_labels",
]

CSF, GREY, WHITE, VESSEL, NECROTIC, OEDEMA, ENHANCING = 1, 2, 3, 4, 5, 6, 7
#: Label 0 is background (outside the brain).
N_LABELS = 8
LABEL_NAMES = ("background", "csf", "grey", "white", "vessel", "necrotic", "oedema", "enhancing")

_BRATS_TO_LABEL = {1: NECROTIC, 2: OEDEMA, 3: ENHANCING}
_SAMPLE = 60_000


def _three_means(values: np.ndarray) -> np.ndarray:
    """Sorted centres of a 1-D 3-means (Lloyd, started at the 15/50/85 % quantiles)."""
    centres = np.quantile(values, [0.15, 0.5, 0.85])
    for _ in range(20):
        edges = (centres[:-1] + centres[1:]) / 2.0
        assigned = np.digitize(values, edges)
        updated = np.array(
            [
                values[assigned == k].mean() if np.any(assigned == k) else centres[k]
                for k in range(3)
            ]
        )
        if np.allclose(updated, centres, atol=1e-4):
            break
        centres = np.sort(updated)
    return np.sort(centres)


def _reference(channels: np.ndarray) -> np.ndarray | None:
    """A channel where CSF < grey < white matter: T1, T1C, or a negated T2 / FLAIR."""
    for index, sign in ((0, 1.0), (1, 1.0), (2, -1.0)):
        if np.any(channels[index] != 0):
            return np.asarray(sign * channels[index], dtype=np.float32)
    return None


def tissue_labels(
    channels: np.ndarray, mask: np.ndarray, brain: np.ndarray | None = None
) -> np.ndarray:
    """The label map (uint8, values 0..7) of a study's normalised channels and BraTS mask.

    Args:
        channels: ``[4, X, Y, Z]`` normalised T1, T1C, T2, FLAIR (zeros: missing / outside).
        mask: ``[X, Y, Z]`` BraTS labels (1 necrotic, 2 oedema, 3 enhancing).
        brain: the channels' brain mask when the caller has it
            (:func:`models.context.brain_mask`); computed otherwise.

    Raises:
        TrainingDataError: the study holds no brain.
    """
    if brain is None:
        brain = np.any(channels != 0, axis=0)
    tumour = np.asarray(mask)
    normal = brain & (tumour == 0)
    if not normal.any():
        raise TrainingDataError("the study holds no brain outside the tumour")
    labels = np.zeros(brain.shape, dtype=np.uint8)
    reference = _reference(channels)
    if reference is None:
        raise TrainingDataError("the study holds none of T1, T1C, T2")
    values = reference[normal]
    rng = np.random.default_rng(0)
    sample = values if values.size <= _SAMPLE else rng.choice(values, _SAMPLE, replace=False)
    centres = _three_means(sample)
    edges = (centres[:-1] + centres[1:]) / 2.0
    labels[normal] = (np.digitize(values, edges) + CSF).astype(np.uint8)
    if np.any(channels[0] != 0) and np.any(channels[1] != 0):
        enhancing = normal & (channels[1] - channels[0] > 1.2) & (channels[1] > 1.0)
        labels[enhancing] = VESSEL
    for brats, label in _BRATS_TO_LABEL.items():
        labels[(tumour == brats) & brain] = label
    # Tumour voxels outside the images' brain (rare; masks drawn a voxel wide) are kept.
    for brats, label in _BRATS_TO_LABEL.items():
        labels[(tumour == brats) & ~brain] = label
    return labels


def label_shares(labels: np.ndarray) -> np.ndarray:
    """Fraction of the brain (labels > 0) in each label, float32 ``[N_LABELS]`` (0 for 0)."""
    counts = np.bincount(np.asarray(labels).ravel(), minlength=N_LABELS).astype(np.float64)
    counts[0] = 0.0
    total = counts.sum()
    return np.asarray(counts / total if total > 0 else counts, dtype=np.float32)
