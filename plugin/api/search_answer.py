"""The documented shape of a search answer (``POST /api/v1/search`` and
``POST /api/v1/search/image``) in the OpenAPI schema.

The answer is built as a dict by :func:`indexer.search_service.search_study` (also the
JSON of ``simcase search --json``) and :func:`indexer.image_query.search_image`; these
models name its fields and let the rest through (``extra="allow"``), so the schema
documents the answer without changing it (the routes answer with
``response_model_exclude_unset``: no field is added that the search did not set).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MapPoint", "SearchAnswer", "SearchHit", "SearchQuery"]

_OPEN = ConfigDict(extra="allow", protected_namespaces=())


class MapPoint(BaseModel):
    """A place on the archive map (``GET /api/v1/map``)."""

    x: float
    y: float


class SearchQuery(BaseModel):
    """What was searched for: the query's tumour facts, sequences and pictures."""

    model_config = _OPEN

    kind: str = Field("study", description="`image` for a single 2-D image; absent for a study")
    study_instance_uid: str | None = Field(None, description="The uploaded study's UID")
    map_point: MapPoint | None = Field(
        None,
        description="Where the query lands on the archive map of this answer's model"
        " version (`GET /api/v1/map`), computed on the server with the projection stored"
        " at index time, the one that placed the archive's cases: `(embedding - mean) @"
        " components.T`. Null when the archive holds fewer than two cases (no map).",
    )
    patient_excluded: bool = Field(
        False, description="Whether a patient was left out of the results (never who)"
    )
    viewer_url: str | None = Field(
        None, description="OHIF link to the query's study, when it is in the PACS"
    )


class SearchHit(BaseModel):
    """One similar archive case."""

    model_config = _OPEN

    rank: int
    case_id: str = Field(description="Pseudonymous archive case id")
    diagnosis: str
    similarity: float = Field(description="(1 + cosine) / 2, 1 for the same tumour")
    viewer_url: str | None = Field(
        None, description="OHIF link showing the query and this case, when both are in the PACS"
    )


class SearchAnswer(BaseModel):
    """Similar archive cases for a query. Not for diagnostic use."""

    model_config = _OPEN

    model_version: str = Field(description="The model version the search used")
    query: SearchQuery
    results: list[SearchHit] = Field(description="The overall top k")
    per_diagnosis: dict[str, list[SearchHit]] = Field(
        description="The top n of each diagnosis (empty unless per_diagnosis > 0)"
    )
    notice: str
