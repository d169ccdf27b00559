"""The corpus must not be solvable from lesion size, count and position alone.

Nearest-neighbour retrieval on the facts a trivial pipeline could measure
(lesion volume, count, centroid) must stay below mAP 0.8 on 90 cases, with the
query's own patient left out; otherwise a model trained here learns nothing useful.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.synth.rendering import render_case

N_CASES = 90
MAX_MAP = 0.8


def mean_average_precision(
    features: np.ndarray, diagnoses: list[str], patients: list[str]
) -> float:
    x = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-9)
    labels = np.asarray(diagnoses)
    owners = np.asarray(patients)
    precisions = []
    for query in range(len(x)):
        others = owners != owners[query]
        distances = np.linalg.norm(x[others] - x[query], axis=1)
        relevant = labels[others][np.argsort(distances, kind="stable")] == labels[query]
        ranks = np.flatnonzero(relevant) + 1
        precisions.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
    return float(np.mean(precisions))


@pytest.fixture(scope="module")
def facts() -> list[dict[str, object]]:
    return [render_case(0, i, resolution_mm=4.0, labels_only=True).truth for i in range(N_CASES)]


def _volume(fact: dict[str, object], key: str) -> float:
    volumes = fact["volume_ml"]
    assert isinstance(volumes, dict)
    return float(np.log1p(volumes[key]))


def test_mean_average_precision_helper() -> None:
    features = np.array([[0.0], [0.1], [5.0], [5.1]])
    perfect = mean_average_precision(features, ["a", "a", "b", "b"], ["1", "2", "3", "4"])
    assert perfect == pytest.approx(1.0)
    worst = mean_average_precision(features, ["a", "b", "a", "b"], ["1", "2", "3", "4"])
    assert worst == pytest.approx(5 / 12)


@pytest.mark.slow
def test_volume_count_and_centroid_do_not_solve_the_corpus(facts: list[dict[str, object]]) -> None:
    diagnoses = [str(f["diagnosis"]) for f in facts]
    assert len(set(diagnoses)) == 3
    patients = [str(f["patient_id"]) for f in facts]
    basic = np.array(
        [[_volume(f, "whole_tumour"), f["lesion_count"], *f["centroid_mm"]] for f in facts],  # type: ignore[list-item]
        dtype=float,
    )
    score = mean_average_precision(basic, diagnoses, patients)
    assert score < MAX_MAP, f"volume/count/centroid baseline reaches mAP {score:.3f}"
    # A stronger shortcut: the volume of every label as well.
    labels = ("whole_tumour", "tumour_core", "enhancing", "necrotic", "oedema")
    rich = np.concatenate(
        [np.array([[_volume(f, key) for key in labels] for f in facts]), basic[:, 1:]], axis=1
    )
    score = mean_average_precision(rich, diagnoses, patients)
    assert score < MAX_MAP, f"label volumes/count/centroid baseline reaches mAP {score:.3f}"
