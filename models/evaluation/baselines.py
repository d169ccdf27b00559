"""Shortcut baselines scored next to the trained embedder.

Each turns the same evidence the model sees (crops, mask, facts) into case vectors:
raw-pixel PCA on the crops, lesion facts only, the measured signs alone
(:mod:`models.signs`, standardised, Euclidean), intensity histograms inside the tumour,
and the same network untrained.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from models.facts import TumourFacts

__all__ = [
    "HISTOGRAM_BINS",
    "fact_features",
    "intensity_histogram",
    "pca_vectors",
    "standardise",
]

HISTOGRAM_BINS = 24


def fact_features(facts: TumourFacts) -> np.ndarray:
    """Volume per compartment (log), lesion count and centroid: the facts-only vector."""
    x, y, z = facts.centroid_ras_mm
    return np.asarray(
        [
            np.log1p(facts.volume_ml),
            np.log1p(facts.necrotic_ml),
            np.log1p(facts.oedema_ml),
            np.log1p(facts.enhancing_ml),
            float(facts.lesion_count),
            x,
            y,
            z,
        ],
        dtype=np.float64,
    )


def standardise(queries: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sides by the references' mean and standard deviation per feature."""
    mean = references.mean(axis=0)
    std = references.std(axis=0)
    std[std == 0] = 1.0
    return (queries - mean) / std, (references - mean) / std


def intensity_histogram(channels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-sequence histograms of normalised intensity inside the tumour, concatenated.

    Square roots of the normalised counts (Hellinger embedding), so Euclidean
    distance between vectors compares the distributions.
    """
    tumour = np.asarray(mask) > 0
    parts = []
    for channel in channels:
        counts, _ = np.histogram(channel[tumour], bins=HISTOGRAM_BINS, range=(-5.0, 5.0))
        total = counts.sum()
        parts.append(np.sqrt(counts / total) if total else np.zeros(HISTOGRAM_BINS))
    return np.concatenate(parts)


def pca_vectors(
    query_crops: np.ndarray, reference_crops: np.ndarray, *, components: int = 32, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Raw-pixel PCA fitted on the archive crops; both sides projected.

    Args:
        query_crops: ``[n, ...]`` one (mean) crop per query case.
        reference_crops: ``[n, ...]`` one (mean) crop per archive case.
        components: PCA dimensions (capped by the number of cases).
        seed: for the randomised solver.
    """
    q = query_crops.reshape(len(query_crops), -1).astype(np.float64)
    r = reference_crops.reshape(len(reference_crops), -1).astype(np.float64)
    n = max(1, min(components, len(r) - 1, r.shape[1]))
    pca = PCA(n_components=n, random_state=seed).fit(r)
    return pca.transform(q), pca.transform(r)
