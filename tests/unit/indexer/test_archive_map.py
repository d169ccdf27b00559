"""The archive map's projection: principal components that separate what differs most,
the same map for the same data, and queries placed by the same linear map."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.archive_map import fit_projection


def _clusters(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 32)) * 3
    labels = np.repeat(np.arange(3), 40)
    vectors = centres[labels] + rng.normal(scale=0.3, size=(120, 32))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels


def test_clusters_stay_apart_on_the_map() -> None:
    vectors, labels = _clusters()
    projection = fit_projection(vectors)
    xy = projection.apply(vectors)
    centres = np.stack([xy[labels == k].mean(axis=0) for k in range(3)])
    spread = max(
        float(np.linalg.norm(xy[labels == k] - centres[k], axis=1).mean()) for k in range(3)
    )
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    assert min(gaps) > 3 * spread


def test_same_data_same_map_and_queries_land_by_the_same_rule() -> None:
    vectors, _ = _clusters(1)
    first, second = fit_projection(vectors), fit_projection(vectors[::-1].copy())
    assert np.allclose(first.apply(vectors), second.apply(vectors), atol=1e-8)
    query = vectors[:1] * 0.5 + vectors[1:2] * 0.5
    assert np.allclose(
        first.apply(query), (first.apply(vectors[:1]) + first.apply(vectors[1:2])) / 2
    )
    assert first.components.shape == (2, 32)
    assert np.allclose(first.components @ first.components.T, np.eye(2), atol=1e-8)


def test_fewer_than_two_vectors_are_refused() -> None:
    with pytest.raises(ValueError, match="Argument 'vectors'"):
        fit_projection(np.ones((1, 4)))
