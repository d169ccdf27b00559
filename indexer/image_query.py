"""Search with one 2-D image: a PNG/JPEG screenshot or a single-frame DICOM slice.

Weaker than a study search, and labelled so: one sequence instead of four, one slice
instead of the tumour's largest slice and its neighbours, no 3-D context planes, no
mask (the tumour is where the caller's box is, or the image centre), and an assumed
scale for images without pixel spacing. The slice goes through the same crop and
normalisation as an indexed case (:func:`models.select_tumour_slices`) and is embedded
with the version searches use.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pydicom
from PIL import Image, UnidentifiedImageError

from dicom_conversion import MRSequence, StudyVolumes
from indexer.errors import IndexerError
from indexer.pipeline import ModelSet, models_for_search
from indexer.search_service import map_point
from indexer.store import PgVectorStore, SearchFilters, SearchHit
from models import select_tumour_slices

__all__ = [
    "ImageQuery",
    "ImageQueryError",
    "embed_image",
    "pixel_size",
    "read_image",
    "search_image",
    "slice_study",
]

#: Field of view assumed for an image without pixel spacing (a BraTS slice: 240 mm).
ASSUMED_FIELD_MM = 240.0
#: Slices the 2-D image is repeated over (the crop code wants a volume).
_DEPTH = 3
NOTICE = (
    "Single 2-D image query: weaker than a study search (one sequence, one slice, no 3-D"
    " context, no tumour mask). Not for diagnostic use."
)


class ImageQueryError(IndexerError):
    """The uploaded image cannot be used as a query."""

    __module__ = "indexer"


@runtime_checkable
class CropEmbedder(Protocol):
    """The part of :class:`models.Embedder` that embeds ready crops."""

    def embed_crops(self, crops: np.ndarray, context: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class ImageQuery:
    """One 2-D slice as displayed (rows top to bottom), its pixel size and the tumour box
    ``(row0, col0, row1, col1)`` in pixels, end-exclusive (None: the whole image)."""

    pixels: np.ndarray
    pixel_mm: tuple[float, float]
    sequence: MRSequence = MRSequence.T1C
    box: tuple[int, int, int, int] | None = None


def read_image(data: bytes) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Grey pixels of a PNG/JPEG or single-frame DICOM image, and the DICOM pixel
    spacing (row, column) in mm when it has one."""
    if len(data) > 132 and data[128:132] == b"DICM":
        try:
            ds = pydicom.dcmread(io.BytesIO(data))
            pixels = np.asarray(ds.pixel_array, dtype=np.float32)
        except Exception as exc:
            raise ImageQueryError(f"the DICOM image cannot be decoded: {exc}") from exc
        if pixels.ndim == 3 and str(ds.get("PhotometricInterpretation", "")) == "RGB":
            pixels = pixels.mean(axis=-1)
        if pixels.ndim != 2:
            raise ImageQueryError(f"a single-frame image is needed, got shape {pixels.shape}")
        spacing = ds.get("PixelSpacing")
        return pixels, (float(spacing[0]), float(spacing[1])) if spacing else None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageQueryError("the file is neither a PNG/JPEG image nor DICOM") from exc
    return np.asarray(image.convert("F"), dtype=np.float32), None


def slice_study(query: ImageQuery) -> tuple[StudyVolumes, np.ndarray]:
    """A thin study holding the slice (as the chosen sequence) and a box mask.

    The image is taken as a radiological axial view (anterior at the top, the patient's
    right on the viewer's left) and stored in the canonical RAS array convention.
    """
    pixels = np.asarray(query.pixels, dtype=np.float32)
    if pixels.ndim != 2 or min(pixels.shape) < 8:
        raise ImageQueryError(
            f"the image must be 2-D and at least 8 pixels wide, not {pixels.shape}"
        )
    rows, cols = pixels.shape
    r0, c0, r1, c1 = query.box or (0, 0, rows, cols)
    r0, r1 = sorted((max(0, min(rows, r0)), max(0, min(rows, r1))))
    c0, c1 = sorted((max(0, min(cols, c0)), max(0, min(cols, c1))))
    if r1 - r0 < 2 or c1 - c0 < 2:
        raise ImageQueryError("the box must cover at least 2 x 2 pixels of the image")
    box = np.zeros(pixels.shape, dtype=np.uint8)
    box[r0:r1, c0:c1] = 3
    pixels = pixels - min(0.0, float(pixels.min()))  # background at zero or above

    def to_ras(display: np.ndarray) -> np.ndarray:
        # Display rows run anterior to posterior, columns patient right to left.
        plane = np.flip(display, axis=(0, 1)).T  # (X: right, Y: anterior)
        return np.repeat(plane[:, :, None], _DEPTH, axis=2)

    row_mm, col_mm = query.pixel_mm
    affine = np.diag([col_mm, row_mm, max(row_mm, col_mm), 1.0])
    study = StudyVolumes(arrays={query.sequence: to_ras(pixels)}, affine=affine)
    return study, to_ras(box)


def embed_image(query: ImageQuery, models: ModelSet) -> np.ndarray:
    """The image's vector (float32 ``[dim]``, L2-normalised): the slice cropped around the
    box centre as an indexed case's slices are, embedded without context planes."""
    embedder = models.embedder
    if not isinstance(embedder, CropEmbedder):
        raise ImageQueryError("this embedder cannot embed single slices")
    study, mask = slice_study(query)
    slices = select_tumour_slices(study, mask, n_neighbours=0)
    vector: np.ndarray = embedder.embed_crops(slices.crops, None)[0]
    return vector


def search_image(
    query: ImageQuery,
    store: PgVectorStore,
    models: ModelSet,
    *,
    k: int = 5,
    per_diagnosis: int = 0,
    filters: SearchFilters | None = None,
    exclude_patient: str | None = None,
) -> dict[str, Any]:
    """Similar archive cases for one image (the JSON shape of a study search, with
    ``query.kind`` ``"image"`` and the weaker-query notice)."""
    searching = models_for_search(
        store, models, Path(tempfile.gettempdir()) / "simcase-model-cache"
    )
    vector = embed_image(query, searching)
    result = store.search(
        vector,
        k,
        searching.model_version,
        per_diagnosis=per_diagnosis,
        filters=filters,
        exclude_patient=exclude_patient,
    )

    def items(hits: list[SearchHit]) -> list[dict[str, Any]]:
        return [h.to_dict() for h in hits]

    return {
        "model_version": result.model_version,
        "query": {
            "kind": "image",
            "weaker": True,
            "sequence": query.sequence.value,
            "pixel_mm": list(query.pixel_mm),
            "box": list(query.box) if query.box else None,
            "map_point": map_point(store, result.model_version, vector),
        },
        "results": items(result.hits),
        "per_diagnosis": {d: items(h) for d, h in result.per_diagnosis.items()},
        "notice": NOTICE,
    }


def pixel_size(pixels: np.ndarray, spacing: tuple[float, float] | None) -> tuple[float, float]:
    """The DICOM pixel spacing, else :data:`ASSUMED_FIELD_MM` across the larger side."""
    if spacing is not None and min(spacing) > 0:
        return spacing
    side = ASSUMED_FIELD_MM / max(pixels.shape)
    return side, side
