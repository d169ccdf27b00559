"""The similarity people are shown: (1 + cos) / 2, in [0, 1]."""

from __future__ import annotations

import pytest

from indexer.store import similarity_of_distance


@pytest.mark.parametrize(
    ("distance", "similarity"), [(0.0, 1.0), (1.0, 0.5), (2.0, 0.0), (0.4, 0.8), (2.1, 0.0)]
)
def test_similarity_of_cosine_distance(distance: float, similarity: float) -> None:
    assert similarity_of_distance(distance) == pytest.approx(similarity)
