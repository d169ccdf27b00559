"""What the case store takes and gives: case entries, search filters, hits, results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CaseEntry",
    "HitRow",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "similarity_of_distance",
]


def similarity_of_distance(cosine_distance: float) -> float:
    """The similarity people are shown, ``(1 + cos) / 2``, from pgvector's cosine distance."""
    return min(1.0, max(0.0, 1.0 - cosine_distance / 2.0))


@dataclass(frozen=True)
class CaseEntry:
    """An archive case to store. ``patient_id`` is used only to exclude a query's patient."""

    case_id: str
    diagnosis: str
    patient_id: str | None = None
    source: str = "archive"
    source_uri: str | None = None
    study_instance_uid: str | None = None
    age: int | None = None
    sex: str | None = None
    given_mask: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    tumour: dict[str, Any] = field(default_factory=dict)
    thumbnail: bytes | None = None
    #: The tumour outline drawn over the thumbnail (transparent PNG).
    outline: bytes | None = None


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on the archive cases a search may return (all optional)."""

    diagnoses: Sequence[str] | None = None
    age_min: int | None = None
    age_max: int | None = None
    sex: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """One similar case.

    ``similarity`` is ``(1 + cosine) / 2`` of the two case vectors: 1 for the same
    vector, 0.5 for unrelated (orthogonal) ones, 0 for opposite ones; never negative, and
    the same number for the same pair whatever the query (docs/models.md, "What the
    similarity means").
    """

    rank: int
    case_id: str
    diagnosis: str
    similarity: float
    source: str
    study_instance_uid: str | None
    age: int | None
    sex: str | None
    tumour: dict[str, Any]
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "case_id": self.case_id,
            "diagnosis": self.diagnosis,
            "similarity": round(self.similarity, 6),
            "source": self.source,
            "study_instance_uid": self.study_instance_uid,
            "age": self.age,
            "sex": self.sex,
            "tumour": self.tumour,
        }


@dataclass(frozen=True)
class HitRow:
    """A search row as the store reads it: the case's columns and its cosine distance."""

    case_id: str
    diagnosis: str
    source: str
    study_instance_uid: str | None
    age: int | None
    sex: str | None
    tumour: dict[str, Any]
    metadata: dict[str, Any]
    distance: float

    def hit(self, rank: int) -> SearchHit:
        return SearchHit(
            rank=rank,
            case_id=self.case_id,
            diagnosis=self.diagnosis,
            source=self.source,
            study_instance_uid=self.study_instance_uid,
            age=self.age,
            sex=self.sex,
            tumour=self.tumour,
            metadata=self.metadata,
            # pgvector's <=> is the cosine distance 1 - cos: (1 + cos) / 2 = 1 - d / 2.
            similarity=similarity_of_distance(float(self.distance)),
        )


@dataclass(frozen=True)
class SearchResult:
    """The overall top k and the top n of each diagnosis, under one model version."""

    model_version: str
    hits: list[SearchHit]
    per_diagnosis: dict[str, list[SearchHit]]
