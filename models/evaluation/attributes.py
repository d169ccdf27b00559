"""Do the top results look like the query, beyond sharing its diagnosis?

Each case gets the attributes a radiologist would compare (enhancement pattern,
extra-axial or not, how many lesions, side, lobe), measured on its reference mask, with
the extra-axial flag and the hard-case kind from the folder's ``truth.json`` when it has
one. :func:`attribute_agreement` says how often the top k share each attribute with the
query; :func:`within_diagnosis` does the same, plus size and location distances, among
the cases of the query's own diagnosis (what the per-diagnosis lists show), against
random orderings of the same cases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.evaluation.morphology import pair_numbers
from models.evaluation.retrieval_metrics import Metric, per_query_scores, rank_references
from models.facts import TumourFacts

__all__ = [
    "ATTRIBUTE_NAMES",
    "CaseAttributes",
    "attribute_agreement",
    "by_kind",
    "case_attributes",
    "read_truth",
    "within_diagnosis",
]

ATTRIBUTE_NAMES = ("enhancement", "extra_axial", "lesion_class", "hemisphere", "lobe")

#: Volumes below this (ml) count as absent when the pattern is read off a mask.
_PRESENT_ML = 0.1


@dataclass(frozen=True)
class CaseAttributes:
    """What a case looks like, in categories (None: not known)."""

    enhancement: str
    extra_axial: bool | None
    lesion_class: str
    hemisphere: str
    lobe: str
    kind: str | None

    def value(self, name: str) -> object:
        """The attribute ``name`` of :data:`ATTRIBUTE_NAMES`."""
        return getattr(self, name)


def read_truth(folder: Path) -> dict[str, dict[str, Any]]:
    """``truth.json``'s cases by case id (empty when the folder has none)."""
    path = Path(folder) / "truth.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {str(c["case_id"]): c for c in data.get("cases", []) if "case_id" in c}


def case_attributes(facts: TumourFacts, truth: dict[str, Any] | None = None) -> CaseAttributes:
    """The attributes of a case from its reference-mask facts (and its truth entry)."""
    if facts.enhancing_ml < _PRESENT_ML:
        enhancement = "none"
    elif facts.necrotic_ml >= _PRESENT_ML:
        enhancement = "ring"
    else:
        enhancement = "solid"
    count = facts.lesion_count
    lesion_class = "1" if count <= 1 else "2-3" if count <= 3 else "4+"
    extra = None if truth is None else truth.get("extra_axial")
    hard = None if truth is None else truth.get("hard")
    return CaseAttributes(
        enhancement=enhancement,
        extra_axial=None if extra is None else bool(extra),
        lesion_class=lesion_class,
        hemisphere=facts.hemisphere,
        lobe=facts.lobe,
        kind=None if hard in (None, "", False) else str(hard),
    )


def _agree(
    pairs: Sequence[tuple[int, int]], attributes: Sequence[CaseAttributes]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in ATTRIBUTE_NAMES:
        hits = [
            attributes[i].value(name) == attributes[j].value(name)
            for i, j in pairs
            if attributes[i].value(name) is not None and attributes[j].value(name) is not None
        ]
        out[name] = float(np.mean(hits)) if hits else float("nan")
    return out


def _top_pairs(orders: Sequence[np.ndarray], k: int) -> list[tuple[int, int]]:
    return [(i, int(j)) for i, order in enumerate(orders) for j in order[:k]]


def attribute_agreement(
    orders: Sequence[np.ndarray], attributes: Sequence[CaseAttributes], *, k: int = 5
) -> dict[str, float]:
    """Share of (query, top-k hit) pairs that agree on each attribute."""
    return _agree(_top_pairs(orders, k), attributes)


def _distances(
    pairs: Sequence[tuple[int, int]], facts: Sequence[TumourFacts]
) -> tuple[float, float]:
    numbers = [pair_numbers(facts[i], facts[j]) for i, j in pairs]
    if not numbers:
        return float("nan"), float("nan")
    ratios, mm = zip(*numbers, strict=True)
    return float(np.median(ratios)), float(np.median(mm))


def within_diagnosis(
    queries: np.ndarray,
    references: np.ndarray,
    patients: Sequence[str],
    diagnoses: Sequence[str],
    facts: Sequence[TumourFacts],
    attributes: Sequence[CaseAttributes],
    *,
    k: int = 5,
    metric: Metric = "cosine",
    seed: int = 0,
    repeats: int = 10,
) -> dict[str, Any]:
    """Top ``k`` among the cases of the query's own diagnosis (other patients only):
    median |log volume ratio|, median centroid distance (mm) and attribute agreement,
    beside the same numbers for random orderings of those cases.
    """
    labels = np.asarray(diagnoses)
    owners = np.asarray(patients)
    full = rank_references(queries, references, patients, metric=metric)
    orders = [order[labels[order] == labels[i]] for i, order in enumerate(full)]
    pairs = _top_pairs(orders, k)
    ratio, distance = _distances(pairs, facts)
    rng = np.random.default_rng(seed)
    chance_ratio, chance_mm, chance_agree = [], [], []
    for _ in range(repeats):
        random_orders = [
            rng.permutation(np.flatnonzero((owners != owners[i]) & (labels == labels[i])))
            for i in range(len(labels))
        ]
        random_pairs = _top_pairs(random_orders, k)
        r, d = _distances(random_pairs, facts)
        chance_ratio.append(r)
        chance_mm.append(d)
        chance_agree.append(_agree(random_pairs, attributes))
    return {
        "median_volume_log_ratio_top5": ratio,
        "median_centroid_mm_top5": distance,
        "agreement_top5": _agree(pairs, attributes),
        "random_median_volume_log_ratio_top5": float(np.mean(chance_ratio)),
        "random_median_centroid_mm_top5": float(np.mean(chance_mm)),
        "random_agreement_top5": {
            name: _mean_known([a[name] for a in chance_agree]) for name in ATTRIBUTE_NAMES
        },
    }


def _mean_known(values: Sequence[float]) -> float:
    known = [v for v in values if not np.isnan(v)]
    return float(np.mean(known)) if known else float("nan")


def by_kind(
    orders: Sequence[np.ndarray],
    diagnoses: Sequence[str],
    attributes: Sequence[CaseAttributes],
    failed: Sequence[bool],
) -> dict[str, dict[str, float]]:
    """mAP@R and P@5 of the queries of each hard-case kind ("typical": none)."""
    rows = per_query_scores(orders, diagnoses, failed=failed)
    groups: dict[str, list[dict[str, float]]] = {}
    for row, attrs in zip(rows, attributes, strict=True):
        groups.setdefault(attrs.kind or "typical", []).append(row)
    return {
        kind: {
            "cases": float(len(chosen)),
            "map_at_r": _mean_known([r["map_at_r"] for r in chosen]),
            "p_at_5": _mean_known([r["p_at_5"] for r in chosen]),
        }
        for kind, chosen in sorted(groups.items())
    }
