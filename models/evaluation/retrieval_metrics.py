"""Leave-one-patient-out retrieval metrics: mAP@R and P@k, overall and per diagnosis.

mAP@R follows Musgrave et al. 2020 (pytorch-metric-learning's ``AccuracyCalculator``):
for a query with R relevant items in the database, AP@R averages the precision at
each relevant position among the first R results, divided by R. The database of a
query holds every case of other patients, so cases of the query's own patient
(a second time point) are never counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["RetrievalScores", "per_query_scores", "rank_references", "retrieval_scores"]

Metric = Literal["cosine", "euclidean"]


def rank_references(
    queries: np.ndarray,
    references: np.ndarray,
    patients: Sequence[str],
    *,
    metric: Metric = "cosine",
) -> list[np.ndarray]:
    """For each query ``i``, reference indices from most to least similar.

    Row ``i`` of ``queries`` and of ``references`` describe the same case (query
    side and archive side); references of the query's patient are left out.
    """
    q = np.asarray(queries, dtype=np.float64)
    r = np.asarray(references, dtype=np.float64)
    if metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        rn = r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12)
        distance = -(qn @ rn.T)
    else:
        distance = np.sum(q**2, axis=1)[:, None] + np.sum(r**2, axis=1)[None, :] - 2.0 * (q @ r.T)
    owners = np.asarray(patients)
    orders = []
    for i in range(len(q)):
        keep = np.flatnonzero(owners != owners[i])
        orders.append(keep[np.argsort(distance[i, keep], kind="stable")])
    return orders


@dataclass
class RetrievalScores:
    """mAP@R and precision at 1, 5 and 10, overall and per diagnosis."""

    map_at_r: float
    p_at_1: float
    p_at_5: float
    p_at_10: float
    per_diagnosis: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready numbers."""
        return {
            "map_at_r": self.map_at_r,
            "p_at_1": self.p_at_1,
            "p_at_5": self.p_at_5,
            "p_at_10": self.p_at_10,
            "per_diagnosis": self.per_diagnosis,
        }


def _per_query(order: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    hits = relevant[order]
    r = int(hits.sum())
    scores: dict[str, float] = {}
    if r == 0:
        scores["map_at_r"] = float("nan")
    else:
        top = hits[:r].astype(np.float64)
        precision = np.cumsum(top) / np.arange(1, r + 1)
        scores["map_at_r"] = float(np.sum(precision * top) / r)
    for k in (1, 5, 10):
        kk = min(k, len(hits))
        scores[f"p_at_{k}"] = float(hits[:kk].mean()) if kk else float("nan")
    return scores


def per_query_scores(
    orders: Sequence[np.ndarray],
    diagnoses: Sequence[str],
    *,
    failed: Sequence[bool] | None = None,
) -> list[dict[str, float]]:
    """mAP@R, P@1, P@5 and P@10 of every query (failed queries score 0)."""
    labels = np.asarray(diagnoses)
    rows: list[dict[str, float]] = []
    for i, order in enumerate(orders):
        if failed is not None and failed[i]:
            rows.append({"map_at_r": 0.0, "p_at_1": 0.0, "p_at_5": 0.0, "p_at_10": 0.0})
        else:
            rows.append(_per_query(order, labels == labels[i]))
    return rows


def retrieval_scores(
    orders: Sequence[np.ndarray],
    diagnoses: Sequence[str],
    *,
    failed: Sequence[bool] | None = None,
) -> RetrievalScores:
    """Scores from ranked references (:func:`rank_references`).

    Args:
        orders: per query, reference indices best first (own patient excluded).
        diagnoses: diagnosis of every case (query ``i`` is case ``i``).
        failed: queries that could not be embedded (no tumour found): they score 0.
    """
    labels = np.asarray(diagnoses)
    rows = per_query_scores(orders, diagnoses, failed=failed)

    def mean(selected: list[dict[str, float]], key: str) -> float:
        values = [row[key] for row in selected if not np.isnan(row[key])]
        return float(np.mean(values)) if values else float("nan")

    per: dict[str, dict[str, float]] = {}
    for diagnosis in sorted(set(labels.tolist())):
        chosen = [row for row, label in zip(rows, labels, strict=True) if label == diagnosis]
        per[diagnosis] = {
            key: mean(chosen, key) for key in ("map_at_r", "p_at_1", "p_at_5", "p_at_10")
        }
    return RetrievalScores(
        map_at_r=mean(rows, "map_at_r"),
        p_at_1=mean(rows, "p_at_1"),
        p_at_5=mean(rows, "p_at_5"),
        p_at_10=mean(rows, "p_at_10"),
        per_diagnosis=per,
    )
