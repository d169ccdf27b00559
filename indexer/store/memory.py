"""A case store in dictionaries, for unit tests: :class:`MemoryStore`.

It keeps the rules of :class:`~indexer.store.PgVectorStore` (one active model version,
a new one building until it covers every case, the query's patient never returned,
the top n of every diagnosis) with an exact cosine search instead of an HNSW index, as
procrastinate ships an in-memory connector beside its PostgreSQL one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from indexer.errors import IndexerError, ModelVersionError
from indexer.map_projection import MapPoint, Projection, fit_projection
from indexer.store._records import (
    CaseEntry,
    HitRow,
    SearchFilters,
    SearchHit,
    SearchResult,
)

__all__ = ["MemoryStore"]


@dataclass
class _Version:
    dim: int
    state: str
    weights: bytes | None = None


@dataclass
class MemoryStore:
    """:class:`~indexer.store.VectorStore` in memory (exact search, no database)."""

    versions: dict[str, _Version] = field(default_factory=dict)
    cases: dict[str, CaseEntry] = field(default_factory=dict)
    #: (model version, case id) -> the case vector, float32, as stored.
    vectors: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    #: (actor, action, subject) of every audited change, oldest first.
    audit_log: list[tuple[str, str, str]] = field(default_factory=list)
    #: model version -> the archive map's projection (kept by ``refresh_archive_map``).
    maps: dict[str, Projection] = field(default_factory=dict)

    # -- model versions

    def register_model(self, model_version: str, dim: int) -> str:
        known = self.versions.get(model_version)
        if known is not None:
            if known.dim != dim:
                raise ModelVersionError(
                    f"model version {model_version} is registered with dim {known.dim}, not {dim}"
                )
            if known.state == "retired":
                known.state = "building"
            return known.state
        state = "building" if self.active_model_version() else "active"
        self.versions[model_version] = _Version(dim, state)
        return state

    def save_weights(self, model_version: str, onnx: bytes) -> None:
        version = self.versions.get(model_version)
        if version is not None and version.weights is None:
            version.weights = onnx

    def load_weights(self, model_version: str) -> bytes | None:
        version = self.versions.get(model_version)
        return version.weights if version else None

    def active_model_version(self) -> str | None:
        return next((v for v, row in self.versions.items() if row.state == "active"), None)

    def coverage(self, model_version: str) -> tuple[int, int]:
        return len(self.indexed_case_ids(model_version)), len(self.cases)

    def missing_case_ids(self, model_version: str) -> list[str]:
        return sorted(set(self.cases) - self.indexed_case_ids(model_version))

    def activate(self, model_version: str, actor: str = "system") -> None:
        version = self._version(model_version)
        if version.state == "active":
            return
        missing = self.missing_case_ids(model_version)
        if missing:
            raise ModelVersionError(
                f"model version {model_version} lacks {len(missing)} case(s); not activated"
            )
        retired = [v for v, row in self.versions.items() if row.state == "active"]
        version.state = "active"
        self.audit_log.append((actor, "activate_model", model_version))
        for old in retired:
            del self.versions[old]
            self.maps.pop(old, None)
            for key in [key for key in self.vectors if key[0] == old]:
                del self.vectors[key]

    def refresh_archive_map(self, model_version: str) -> bool:
        vectors = [
            v for (version, _), v in sorted(self.vectors.items()) if version == model_version
        ]
        if len(vectors) < 2:
            self.maps.pop(model_version, None)
            return False
        self.maps[model_version] = fit_projection(np.stack(vectors))
        return True

    def place_on_map(self, model_version: str, vector: np.ndarray) -> MapPoint | None:
        if model_version not in self.maps and not self.refresh_archive_map(model_version):
            return None
        x, y = self.maps[model_version].apply(np.asarray(vector).reshape(1, -1))[0]
        return MapPoint(float(x), float(y))

    # -- cases and vectors

    def upsert(
        self,
        entry: CaseEntry,
        model_version: str,
        vector: np.ndarray,
        slice_vectors: Iterable[np.ndarray] = (),
    ) -> None:
        stored = self._vector(model_version, vector)
        for slice_vector in slice_vectors:
            self._vector(model_version, slice_vector)
        previous = self.cases.get(entry.case_id)
        if entry.thumbnail is None and previous is not None and previous.thumbnail is not None:
            entry = replace(entry, thumbnail=previous.thumbnail)
        if entry.outline is None and previous is not None and previous.outline is not None:
            entry = replace(entry, outline=previous.outline)
        self.cases[entry.case_id] = entry
        self.vectors[(model_version, entry.case_id)] = stored

    def add_vector(self, case_id: str, model_version: str, vector: np.ndarray) -> None:
        if case_id not in self.cases:
            raise IndexerError(f"no archive case {case_id!r}")
        self.vectors[(model_version, case_id)] = self._vector(model_version, vector)

    def indexed_case_ids(self, model_version: str) -> set[str]:
        return {case_id for version, case_id in self.vectors if version == model_version}

    def case_source(self, case_id: str) -> tuple[str | None, bool]:
        entry = self.cases.get(case_id)
        if entry is None:
            raise IndexerError(f"no archive case {case_id!r}")
        return entry.source_uri, entry.given_mask

    def outlines(self, case_ids: list[str]) -> dict[str, bytes]:
        return {
            case_id: outline
            for case_id in case_ids
            if case_id in self.cases and (outline := self.cases[case_id].outline) is not None
        }

    def thumbnails(self, case_ids: list[str]) -> dict[str, bytes]:
        return {
            case_id: thumbnail
            for case_id in case_ids
            if case_id in self.cases and (thumbnail := self.cases[case_id].thumbnail) is not None
        }

    def delete_case(self, case_id: str, actor: str) -> bool:
        if self.cases.pop(case_id, None) is None:
            return False
        for key in [key for key in self.vectors if key[1] == case_id]:
            del self.vectors[key]
        self.audit_log.append((actor, "delete_case", case_id))
        return True

    # -- search

    def search(
        self,
        vector: np.ndarray,
        k: int = 10,
        model_version: str | None = None,
        *,
        per_diagnosis: int = 0,
        filters: SearchFilters | None = None,
        exclude_patient: str | None = None,
        exact: bool = False,
    ) -> SearchResult:
        """Exact cosine search (``exact`` changes nothing here)."""
        if k < 1:
            raise ValueError("Argument 'k' must be at least 1.")
        version = model_version or self.active_model_version()
        if version is None:
            raise ModelVersionError("the archive is empty: no model version is active yet")
        query = self._vector(version, vector)
        filters = filters or SearchFilters()
        ranked = sorted(
            (
                (_cosine_distance(query, stored), entry)
                for (v, case_id), stored in self.vectors.items()
                if v == version
                and _admitted(entry := self.cases[case_id], filters, exclude_patient)
            ),
            key=lambda pair: pair[0],
        )
        hits = [_hit(entry, d, rank) for rank, (d, entry) in enumerate(ranked[:k], start=1)]
        grouped: dict[str, list[SearchHit]] = {}
        if per_diagnosis > 0:
            for d, entry in ranked:
                group = grouped.setdefault(entry.diagnosis, [])
                if len(group) < per_diagnosis:
                    group.append(_hit(entry, d, len(group) + 1))
            grouped = dict(sorted(grouped.items()))
        return SearchResult(model_version=version, hits=hits, per_diagnosis=grouped)

    def _version(self, model_version: str) -> _Version:
        version = self.versions.get(model_version)
        if version is None:
            raise ModelVersionError(f"unknown model version {model_version}")
        return version

    def _vector(self, model_version: str, vector: np.ndarray) -> np.ndarray:
        dim = self._version(model_version).dim
        array = np.asarray(vector, dtype=np.float32).reshape(-1)
        if array.shape[0] != dim:
            raise ModelVersionError(f"vector has {array.shape[0]} dimensions, the model has {dim}")
        if not np.all(np.isfinite(array)):
            raise IndexerError("vector holds NaN or infinite values")
        return array


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(np.dot(a, b)) / norm if norm else 1.0


def _admitted(entry: CaseEntry, filters: SearchFilters, exclude_patient: str | None) -> bool:
    checks = (
        exclude_patient is None or entry.patient_id != exclude_patient,
        not filters.diagnoses or entry.diagnosis in filters.diagnoses,
        filters.age_min is None or (entry.age is not None and entry.age >= filters.age_min),
        filters.age_max is None or (entry.age is not None and entry.age <= filters.age_max),
        filters.sex is None or entry.sex == filters.sex,
        filters.source is None or entry.source == filters.source,
        all(entry.metadata.get(key) == value for key, value in filters.metadata.items()),
    )
    return all(checks)


def _hit(entry: CaseEntry, distance: float, rank: int) -> SearchHit:
    return HitRow(
        entry.case_id,
        entry.diagnosis,
        entry.source,
        entry.study_instance_uid,
        entry.age,
        entry.sex,
        entry.tumour,
        entry.metadata,
        distance,
    ).hit(rank)
