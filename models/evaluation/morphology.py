"""How close the top results are to the query in tumour size and location."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.facts import TumourFacts

__all__ = ["morphology_scores", "pair_numbers", "random_morphology"]


def pair_numbers(query: TumourFacts, hit: TumourFacts) -> tuple[float, float]:
    """|log volume ratio| and centroid distance (mm) of two cases."""
    ratio = abs(float(np.log(max(query.volume_ml, 1e-6) / max(hit.volume_ml, 1e-6))))
    distance = float(np.linalg.norm(np.subtract(query.centroid_ras_mm, hit.centroid_ras_mm)))
    return ratio, distance


def morphology_scores(
    orders: Sequence[np.ndarray], facts: Sequence[TumourFacts], *, k: int = 5
) -> dict[str, float]:
    """Median |log volume ratio| and median centroid distance (mm) over all top-k pairs.

    Facts come from the reference (given) masks of both cases.
    """
    ratios, distances = [], []
    for i, order in enumerate(orders):
        for j in order[:k]:
            ratio, distance = pair_numbers(facts[i], facts[int(j)])
            ratios.append(ratio)
            distances.append(distance)
    return {
        "median_volume_log_ratio_top5": float(np.median(ratios)) if ratios else float("nan"),
        "median_centroid_mm_top5": float(np.median(distances)) if distances else float("nan"),
    }


def random_morphology(
    facts: Sequence[TumourFacts], patients: Sequence[str], *, seed: int = 0, repeats: int = 20
) -> dict[str, float]:
    """The same numbers for random orderings (other patients only): the chance level."""
    rng = np.random.default_rng(seed)
    owners = np.asarray(patients)
    ratio_medians, distance_medians = [], []
    for _ in range(repeats):
        orders = [rng.permutation(np.flatnonzero(owners != owners[i])) for i in range(len(facts))]
        scores = morphology_scores(orders, facts)
        ratio_medians.append(scores["median_volume_log_ratio_top5"])
        distance_medians.append(scores["median_centroid_mm_top5"])
    return {
        "median_volume_log_ratio_top5": float(np.mean(ratio_medians)),
        "median_centroid_mm_top5": float(np.mean(distance_medians)),
    }
