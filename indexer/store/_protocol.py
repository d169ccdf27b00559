"""The role every case store plays: :class:`VectorStore`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from indexer.map_projection import MapPoint
from indexer.store._records import CaseEntry, SearchFilters, SearchResult

__all__ = ["VectorStore"]


class VectorStore(Protocol):
    """What the rest of simcase needs from a case store.

    :class:`~indexer.store.PgVectorStore` is the real one; :class:`~indexer.store.MemoryStore`
    keeps everything in dictionaries for unit tests. ``tests/unit/indexer`` checks that
    both satisfy this protocol.
    """

    # -- model versions
    def register_model(self, model_version: str, dim: int) -> str: ...

    def save_weights(self, model_version: str, onnx: bytes) -> None: ...

    def load_weights(self, model_version: str) -> bytes | None: ...

    def active_model_version(self) -> str | None: ...

    def coverage(self, model_version: str) -> tuple[int, int]: ...

    def missing_case_ids(self, model_version: str) -> list[str]: ...

    def activate(self, model_version: str, actor: str = "system") -> None: ...

    def refresh_archive_map(self, model_version: str) -> bool: ...

    def place_on_map(self, model_version: str, vector: np.ndarray) -> MapPoint | None: ...

    # -- cases and vectors
    def upsert(
        self,
        entry: CaseEntry,
        model_version: str,
        vector: np.ndarray,
        slice_vectors: Iterable[np.ndarray] = (),
    ) -> None: ...

    def add_vector(self, case_id: str, model_version: str, vector: np.ndarray) -> None: ...

    def indexed_case_ids(self, model_version: str) -> set[str]: ...

    def case_source(self, case_id: str) -> tuple[str | None, bool]: ...

    def thumbnails(self, case_ids: list[str]) -> dict[str, bytes]: ...

    def outlines(self, case_ids: list[str]) -> dict[str, bytes]: ...

    def delete_case(self, case_id: str, actor: str) -> bool: ...

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
    ) -> SearchResult: ...
