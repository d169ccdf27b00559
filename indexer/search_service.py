"""The one search behind ``simcase search``, ``POST /api/v1/search`` and ``process_study``.

:func:`find_similar` embeds a study's tumour and searches the store; :func:`search_study`
gives its stable JSON shape (the API and the CLI), ``process_study`` builds the DICOM
results from it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dicom_conversion import StudyVolumes
from indexer.case_images import case_images, png_data_uri
from indexer.pipeline import EmbeddedStudy, ModelSet, embed_study, models_for_search
from indexer.store import SearchFilters, SearchHit, SearchResult, VectorStore

__all__ = ["SearchRequest", "SimilarCases", "find_similar", "map_point", "search_study"]


@dataclass(frozen=True)
class SearchRequest:
    """What to search for and how many results."""

    k: int = 5
    per_diagnosis: int = 0
    filters: SearchFilters | None = None
    exclude_patient: str | None = None
    use_given_mask: bool = True
    #: Add the query's pictures (``query.thumbnail``, ``query.outline``, ``query.images``:
    #: three planes per sequence with the tumour outline) as PNG data URIs.
    images: bool = False


def query_pictures(study: StudyVolumes, embedded: EmbeddedStudy) -> dict[str, Any]:
    """The query's tumour slice and outline (as the hits' thumbnails) and its three planes."""
    return {
        "thumbnail": png_data_uri(embedded.thumbnail),
        "outline": png_data_uri(embedded.outline),
        "images": case_images(study, embedded.mask).to_json(),
    }


@dataclass(frozen=True)
class SimilarCases:
    """A study's embedded tumour and the archive cases nearest to it."""

    embedded: EmbeddedStudy
    result: SearchResult

    @property
    def shown(self) -> list[SearchHit]:
        """Every hit shown: the overall top k, then each diagnosis's top n."""
        groups = self.result.per_diagnosis.values()
        return [*self.result.hits, *(h for group in groups for h in group)]


def find_similar(
    study: StudyVolumes,
    store: VectorStore,
    models: ModelSet,
    request: SearchRequest,
    *,
    lap: Callable[[str], None] | None = None,
) -> SimilarCases:
    """Embed the study's tumour with ``models`` (those of the version searches use, see
    :func:`~indexer.pipeline.models_for_search`) and search the store under that version.

    ``lap("segment")`` is called once the mask is there and ``lap("embed")`` once the
    tumour is embedded (its facts, vector and thumbnails). Raises
    :class:`~indexer.pipeline.NoTumourError` when the study shows no tumour.
    """
    embedded = embed_study(study, models, use_given_mask=request.use_given_mask, lap=lap)
    if lap is not None:
        lap("embed")
    result = store.search(
        embedded.vector,
        request.k,
        embedded.model_version,
        per_diagnosis=request.per_diagnosis,
        filters=request.filters,
        exclude_patient=request.exclude_patient,
    )
    return SimilarCases(embedded, result)


def map_point(
    store: VectorStore, model_version: str, vector: np.ndarray
) -> dict[str, float] | None:
    """``{"x", "y"}``: where the query lands on the version's archive map (``GET
    /api/v1/map``), placed on the server with the stored projection; None without a map."""
    point = store.place_on_map(model_version, vector)
    return point.to_json() if point is not None else None


def _items(hits: list[SearchHit]) -> list[dict[str, Any]]:
    return [h.to_dict() for h in hits]


def search_study(
    study: StudyVolumes,
    store: VectorStore,
    models: ModelSet,
    request: SearchRequest,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Embed the study's tumour and return the stable JSON shape of a search.

    ``{"model_version", "query": {tumour facts, mask source, sequences, map_point},
    "results": [{"rank", "case_id", "diagnosis", "similarity", ...}],
    "per_diagnosis": {"glioma": [...], ...}}``
    """
    cache = cache_dir or Path(tempfile.gettempdir()) / "simcase-model-cache"
    found = find_similar(study, store, models_for_search(store, models, cache), request)
    embedded, result = found.embedded, found.result
    pictures = query_pictures(study, embedded) if request.images else {}
    return {
        "model_version": result.model_version,
        "query": {
            **pictures,
            "map_point": map_point(store, result.model_version, embedded.vector),
            **embedded.facts,
            "mask_source": embedded.mask_source,
            "sequences": [s.value for s in study.arrays],
            "missing_sequences": [s.value for s in study.missing],
            "study_instance_uid": study.study_instance_uid,
        },
        "results": _items(result.hits),
        "per_diagnosis": {d: _items(h) for d, h in result.per_diagnosis.items()},
        "notice": "Not for diagnostic use.",
    }
