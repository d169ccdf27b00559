"""What the top results share with the query beyond the diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.evaluation.attributes import (
    attribute_agreement,
    by_kind,
    case_attributes,
    read_truth,
    within_diagnosis,
)
from models.facts import TumourFacts


def _facts(volume: float, x: float, *, enhancing: float, necrotic: float, lesions: int = 1):
    return TumourFacts(
        volume_ml=volume,
        necrotic_ml=necrotic,
        oedema_ml=volume - necrotic - enhancing,
        enhancing_ml=enhancing,
        core_ml=necrotic + enhancing,
        centroid_ras_mm=(x, 0.0, 0.0),
        centroid_lps_mm=(-x, 0.0, 0.0),
        hemisphere="right" if x > 0 else "left",
        lobe="frontal",
        lesion_count=lesions,
    )


def test_enhancement_pattern_and_lesion_class_are_read_off_the_mask() -> None:
    ring = case_attributes(_facts(40, 30, enhancing=8, necrotic=4), {"extra_axial": False})
    solid = case_attributes(_facts(20, 30, enhancing=8, necrotic=0), {"hard": "small_glioma"})
    none = case_attributes(_facts(20, -30, enhancing=0, necrotic=6, lesions=5))
    assert (ring.enhancement, solid.enhancement, none.enhancement) == ("ring", "solid", "none")
    assert ring.extra_axial is False and solid.extra_axial is None
    assert none.lesion_class == "4+" and ring.lesion_class == "1"
    assert solid.kind == "small_glioma" and ring.kind is None


def test_agreement_counts_pairs_and_skips_unknown_values() -> None:
    attrs = [
        case_attributes(_facts(40, 30, enhancing=8, necrotic=4), {"extra_axial": True}),
        case_attributes(_facts(40, 30, enhancing=8, necrotic=4), {"extra_axial": True}),
        case_attributes(_facts(40, -30, enhancing=8, necrotic=0)),
    ]
    orders = [np.array([1, 2]), np.array([0, 2]), np.array([0, 1])]
    agreement = attribute_agreement(orders, attrs, k=1)
    assert agreement["enhancement"] == pytest.approx(2 / 3)
    assert agreement["hemisphere"] == pytest.approx(2 / 3)
    assert agreement["extra_axial"] == pytest.approx(1.0)  # only the known pairs


def test_within_diagnosis_ranks_among_the_query_s_diagnosis_against_chance() -> None:
    rng = np.random.default_rng(0)
    n = 40
    xs = rng.uniform(-60, 60, n)
    volumes = rng.uniform(2, 80, n)
    facts = [
        _facts(float(v), float(x), enhancing=2, necrotic=1)
        for v, x in zip(volumes, xs, strict=True)
    ]
    attrs = [case_attributes(f) for f in facts]
    # Vectors that encode position and size: the nearest are close in both.
    logs = np.log(volumes)
    vectors = np.stack([xs / 60, (logs - logs.mean()) / logs.std(), np.full(n, 0.5)], axis=1)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    diagnoses = ["glioma" if i % 2 else "metastasis" for i in range(n)]
    result = within_diagnosis(
        vectors, vectors, [f"p{i}" for i in range(n)], diagnoses, facts, attrs
    )
    assert result["median_centroid_mm_top5"] < 0.6 * result["random_median_centroid_mm_top5"]
    assert (
        result["median_volume_log_ratio_top5"] < 0.8 * result["random_median_volume_log_ratio_top5"]
    )
    assert result["agreement_top5"]["hemisphere"] > result["random_agreement_top5"]["hemisphere"]


def test_by_kind_groups_queries_by_their_hard_case_kind() -> None:
    attrs = [
        case_attributes(_facts(10, 10, enhancing=1, necrotic=1), {"hard": h})
        for h in (None, "small_glioma", None)
    ]
    orders = [np.array([1, 2]), np.array([0, 2]), np.array([0, 1])]
    scores = by_kind(orders, ["glioma", "glioma", "metastasis"], attrs, [False] * 3)
    assert scores["small_glioma"]["cases"] == 1
    assert scores["small_glioma"]["map_at_r"] == pytest.approx(1.0)
    assert scores["typical"]["cases"] == 2


def test_read_truth_keys_cases_by_id(tmp_path: Path) -> None:
    assert read_truth(tmp_path) == {}
    (tmp_path / "truth.json").write_text(json.dumps({"cases": [{"case_id": "A", "hard": None}]}))
    assert read_truth(tmp_path) == {"A": {"case_id": "A", "hard": None}}
