"""``POST /api/v1/search/image``: similar cases for one 2-D image (PNG, JPEG or a
single-frame DICOM slice), optionally with a box around the tumour. Weaker than a study
search, and labelled so in the answer. Not for diagnostic use."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, UploadFile, status

from dicom_conversion import MRSequence
from indexer.image_query import ImageQuery, pixel_size, read_image, search_image
from plugin.api.deps import (
    BAD_BODY_RESPONSES,
    SEARCH_CREDENTIAL_RESPONSES,
    ModelsDep,
    SearchCredential,
    SettingsDep,
    StoreDep,
)
from plugin.api.problems import UNAVAILABLE_RESPONSES
from plugin.api.search import decorate_hits
from plugin.api.search_answer import SearchAnswer
from plugin.api.search_filters import FilterDep, patient_of_upload

router = APIRouter(prefix="/api/v1", tags=["search"], responses=UNAVAILABLE_RESPONSES)


def _box(text: str | None) -> tuple[int, int, int, int] | None:
    """``x0,y0,x1,y1`` (pixels, columns then rows) -> ``(row0, col0, row1, col1)``."""
    if not text:
        return None
    try:
        x0, y0, x1, y1 = (round(float(v)) for v in text.split(","))
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "box must be x0,y0,x1,y1 in pixels"
        ) from exc
    return (min(y0, y1), min(x0, x1), max(y0, y1), max(x0, x1))


@router.post(
    "/search/image",
    response_model=SearchAnswer,
    response_model_exclude_unset=True,
    responses={
        **SEARCH_CREDENTIAL_RESPONSES,
        **BAD_BODY_RESPONSES,
        409: {"description": "No complete index of the archive for the current model"},
        413: {"description": "The upload is larger than SIMCASE_API__MAX_UPLOAD_BYTES"},
        422: {"description": "The image cannot be read, or a parameter is out of range"},
    },
)
def search_by_image(
    actor: SearchCredential,
    store: StoreDep,
    models: ModelsDep,
    settings: SettingsDep,
    chosen: FilterDep,
    file: Annotated[UploadFile, File(description="one PNG/JPEG image or DICOM slice")],
    k: Annotated[int, Query(ge=1, le=100)] = 5,
    per_diagnosis: Annotated[int, Query(ge=0, le=20)] = 0,
    sequence: Annotated[MRSequence, Query(description="what the image shows")] = MRSequence.T1C,
    box: Annotated[
        str | None,
        Query(max_length=64, description="x0,y0,x1,y1 around the tumour (default: the centre)"),
    ] = None,
) -> dict[str, Any]:
    """Similar archive cases for a single 2-D image: one sequence, one slice, no 3-D
    context and no mask, so weaker than a study search. Filters as for a study."""
    if sequence is MRSequence.OTHER:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "sequence must be T1, T1C, T2 or FLAIR"
        )
    data = file.file.read()
    # an image that cannot be read is a 422, a database that is down a 503 (plugin.api.problems)
    pixels, spacing = read_image(data)
    query = ImageQuery(pixels, pixel_size(pixels, spacing), sequence, _box(box))
    own = None
    if chosen.exclude_own_patient:
        with tempfile.TemporaryDirectory(prefix="simcase-image-") as tmp:
            (Path(tmp) / "image").write_bytes(data)
            own = patient_of_upload(Path(tmp))
    excluded = chosen.exclude_patient or own
    result = search_image(
        query,
        store,
        models,
        k=k,
        per_diagnosis=per_diagnosis,
        filters=chosen.filters,
        exclude_patient=excluded,
    )
    return decorate_hits(result, store, settings, excluded is not None, actor)
