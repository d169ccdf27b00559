from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_metric_learning.distances import CosineSimilarity
from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
from pytorch_metric_learning.utils.inference import CustomKNN

from models.evaluation.morphology import morphology_scores, random_morphology
from models.evaluation.retrieval_metrics import rank_references, retrieval_scores
from models.facts import TumourFacts


def test_map_at_r_by_hand() -> None:
    # query 0 (class a); relevant: 1, 2 (R = 2); ranking 1, 3, 2 -> AP@R = (1/1) / 2 = 0.5
    orders = [np.array([1, 3, 2]), np.array([0, 2, 3]), np.array([0, 1, 3]), np.array([0, 1, 2])]
    scores = retrieval_scores(orders, ["a", "a", "a", "b"])
    assert scores.per_diagnosis["a"]["map_at_r"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert scores.per_diagnosis["a"]["p_at_1"] == pytest.approx(1.0)
    # class b has no relevant item: nan, left out of the mean
    assert np.isnan(scores.per_diagnosis["b"]["map_at_r"])
    assert scores.map_at_r == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert scores.p_at_1 == pytest.approx(3 / 4)


def test_agrees_with_pytorch_metric_learning_accuracy_calculator() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 20)
    centres = rng.normal(size=(3, 16))
    vectors = centres[labels] + rng.normal(scale=1.2, size=(60, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    patients = [f"p{i}" for i in range(60)]  # one case per patient
    orders = rank_references(vectors, vectors, patients)
    ours = retrieval_scores(orders, [str(x) for x in labels])
    calculator = AccuracyCalculator(
        include=("mean_average_precision_at_r", "precision_at_1"),
        k="max_bin_count",
        knn_func=CustomKNN(CosineSimilarity()),  # faiss is not installed
    )
    theirs = calculator.get_accuracy(
        torch.from_numpy(vectors).float(),
        torch.from_numpy(labels),
        torch.from_numpy(vectors).float(),
        torch.from_numpy(labels),
        ref_includes_query=True,
    )
    assert ours.map_at_r == pytest.approx(theirs["mean_average_precision_at_r"], abs=1e-6)
    assert ours.p_at_1 == pytest.approx(theirs["precision_at_1"], abs=1e-6)
    assert 0.2 < ours.map_at_r < 0.95  # neither trivial nor random


def test_the_query_patient_is_left_out() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.1, 1.0]])
    orders = rank_references(vectors, vectors, ["p1", "p1", "p2", "p3"])
    assert 0 not in orders[0] and 1 not in orders[0]
    assert list(orders[2]) == [3, 0, 1] or list(orders[2]) == [3, 1, 0]


def test_failed_queries_score_zero() -> None:
    orders = [np.array([1]), np.array([0])]
    scores = retrieval_scores(orders, ["a", "a"], failed=[True, False])
    assert scores.map_at_r == pytest.approx(0.5)


def _facts(volume: float, x: float) -> TumourFacts:
    return TumourFacts(
        volume, 0.0, volume, 0.0, 0.0, (x, 0.0, 0.0), (-x, 0.0, 0.0), "left", "frontal", 1
    )


def test_morphology_numbers() -> None:
    facts = [_facts(1.0, 0.0), _facts(np.e, 10.0), _facts(1.0, 3.0)]
    orders = [np.array([2, 1]), np.array([0, 2]), np.array([0, 1])]
    scores = morphology_scores(orders, facts, k=1)
    # pairs (0,2): ratio 0, 3 mm; (1,0): ratio 1, 10 mm; (2,0): ratio 0, 3 mm
    assert scores["median_volume_log_ratio_top5"] == pytest.approx(0.0)
    assert scores["median_centroid_mm_top5"] == pytest.approx(3.0)
    chance = random_morphology(facts, ["a", "b", "c"])
    assert chance["median_centroid_mm_top5"] > 0
