"""The archive map's geometry, without a database: the two-dimensional projection of
case vectors (principal components 1 and 2) and a version's mapped cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["ArchiveMap", "MapPoint", "Projection", "fit_projection"]


@dataclass(frozen=True)
class Projection:
    """A linear map from embedding space to the plane."""

    mean: np.ndarray
    components: np.ndarray

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 2) coordinates of (n, dim) vectors."""
        centred = np.asarray(vectors, dtype=np.float64) - self.mean
        return np.asarray(centred @ self.components.T)


def fit_projection(vectors: np.ndarray) -> Projection:
    """Principal components 1 and 2 of ``vectors`` (n, dim), signs fixed so that the
    largest loading of each component is positive (the same map for the same data).

    Raises
    ------
    ValueError
        With fewer than two vectors.
    """
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        raise ValueError("Argument 'vectors' must hold at least two vectors (n, dim).")
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    components = vt[:2]
    if components.shape[0] < 2:  # dim 1: a flat second axis
        components = np.vstack([components, np.zeros_like(components)])
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return Projection(mean=mean, components=components)


@dataclass(frozen=True)
class MapPoint:
    """A place on the archive map."""

    x: float
    y: float

    def to_json(self) -> dict[str, float]:
        return {"x": round(self.x, 5), "y": round(self.y, 5)}


@dataclass(frozen=True)
class ArchiveMap:
    """The mapped cases of one model version and the projection that placed them."""

    model_version: str
    case_ids: list[str]
    diagnoses: list[str]
    xy: np.ndarray
    projection: Projection
    total_cases: int
    fitted_cases: int
    computed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "total_cases": self.total_cases,
            "fitted_cases": self.fitted_cases,
            "computed_at": self.computed_at.isoformat() if self.computed_at else None,
            "points": [
                {"case_id": c, "diagnosis": d, **MapPoint(float(x), float(y)).to_json()}
                for c, d, (x, y) in zip(self.case_ids, self.diagnoses, self.xy, strict=True)
            ],
            "projection": {
                "mean": [round(float(v), 6) for v in self.projection.mean],
                "components": [
                    [round(float(v), 6) for v in row] for row in self.projection.components
                ],
            },
        }
