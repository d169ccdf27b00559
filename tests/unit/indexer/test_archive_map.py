"""The archive map's projection: principal components that separate what differs most,
the same map for the same data, and queries placed by the same linear map (a stored
case's vector, searched for, lands on its own point)."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.archive_map import ArchiveMap, MapPoint, fit_projection
from indexer.store import CaseEntry, MemoryStore


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


def test_a_stored_case_projects_onto_its_stored_point() -> None:
    vectors, labels = _clusters(2)
    store = MemoryStore()
    store.register_model("m1", vectors.shape[1])
    for i, vector in enumerate(vectors):
        store.upsert(CaseEntry(f"c{i:03d}", f"d{labels[i]}"), "m1", vector)
    assert store.refresh_archive_map("m1")
    projection = store.maps["m1"]
    ids = sorted(store.indexed_case_ids("m1"))
    stored = np.stack([store.vectors[("m1", c)] for c in ids])
    mapped = ArchiveMap(
        "m1", ids, ["d"] * len(ids), projection.apply(stored), projection, len(ids), len(ids)
    ).to_json()["points"]
    for i in (0, 41, 119):  # the case's vector placed as a query is placed, on the server
        point = store.place_on_map("m1", store.vectors[("m1", ids[i])])
        assert point is not None
        assert point.to_json() == {"x": mapped[i]["x"], "y": mapped[i]["y"]}
    # A query between two cases lands between their points.
    between = store.place_on_map("m1", (stored[0] + stored[1]) / 2)
    assert between is not None
    middle = (projection.apply(stored[:1]) + projection.apply(stored[1:2]))[0] / 2
    assert (between.x, between.y) == pytest.approx(tuple(middle))


def test_no_place_without_a_map() -> None:
    store = MemoryStore()
    store.register_model("m1", 4)
    store.upsert(CaseEntry("only", "glioma"), "m1", np.asarray([1, 0, 0, 0], dtype=np.float32))
    assert store.place_on_map("m1", np.ones(4)) is None  # one case: nothing to map
    assert MapPoint(0.123456789, -2.0).to_json() == {"x": 0.12346, "y": -2.0}
