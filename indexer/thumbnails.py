"""A small picture of a tumour: the largest axial slice, cropped around the lesion."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dicom_conversion import MRSequence, StudyVolumes
from indexer.case_images import outline_rgba

__all__ = [
    "THUMBNAIL_SIZE",
    "tumour_outline_png",
    "tumour_slice_image",
    "tumour_slice_outline",
    "tumour_thumbnail",
]

THUMBNAIL_SIZE = 160
_PREFERRED = (MRSequence.T1C, MRSequence.FLAIR, MRSequence.T2, MRSequence.T1)


def _crop(
    study: StudyVolumes, mask: np.ndarray, volume: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image crop, label crop, the slice's plane) of the tumour's largest axial slice.

    The crop is square, centred on the lesion, with a 60% margin and at least 60 mm wide.
    """
    areas = (mask > 0).sum(axis=(0, 1))
    k = int(np.argmax(areas)) if areas.max() > 0 else volume.shape[2] // 2
    plane = volume[:, :, k].astype(np.float32)
    spacing = np.abs(np.asarray(study.spacing[:2], dtype=np.float64))
    ii, jj = np.nonzero(mask[:, :, k] > 0)
    if ii.size:
        centre = np.array([ii.mean(), jj.mean()])
        extent_mm = max((np.ptp(ii) + 1) * spacing[0], (np.ptp(jj) + 1) * spacing[1])
    else:
        centre = np.array(plane.shape, dtype=np.float64) / 2
        extent_mm = 0.0
    half_mm = max(30.0, extent_mm * 0.8)
    half = np.ceil(half_mm / spacing).astype(int)
    lo = np.round(centre).astype(int) - half
    window = (
        slice(lo[0] + half[0], lo[0] + 3 * half[0]),
        slice(lo[1] + half[1], lo[1] + 3 * half[1]),
    )
    pad = ((half[0], half[0]), (half[1], half[1]))
    labels = np.pad(np.asarray(mask[:, :, k], dtype=np.uint8), pad, mode="constant")
    return np.pad(plane, pad, mode="constant")[window], labels[window], plane


def _display(array: np.ndarray) -> np.ndarray:
    # Canonical RAS array: axis 0 runs to the patient's right, axis 1 anterior. Display:
    # rows anterior at the top, patient right on the viewer's left.
    return np.flip(array.T, axis=(0, 1))


def _volume(study: StudyVolumes) -> np.ndarray:
    sequence = next((s for s in _PREFERRED if s in study.arrays), None)
    if sequence is None:
        raise ValueError("the study holds no MR sequence")
    return study.arrays[sequence]


def tumour_slice_image(
    study: StudyVolumes, mask: np.ndarray, size: int = THUMBNAIL_SIZE
) -> np.ndarray:
    """uint8 (size, size) image of the tumour's largest axial slice, radiological view.

    The crop is square, centred on the lesion, with a 60% margin and at least 60 mm wide.
    Rows run anterior to posterior and columns patient right to left (as a radiologist
    reads an axial slice).
    """
    crop, _, plane = _crop(study, mask, _volume(study))
    lo_v, hi_v = np.percentile(plane[plane > 0], [1, 99.5]) if np.any(plane > 0) else (0, 1)
    scaled = np.clip((crop - lo_v) / max(hi_v - lo_v, 1e-6), 0, 1) * 255
    image = Image.fromarray(_display(scaled).astype(np.uint8)).resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.asarray(image)


def tumour_slice_outline(
    study: StudyVolumes, mask: np.ndarray, size: int = THUMBNAIL_SIZE
) -> np.ndarray:
    """uint8 (size, size, 4) transparent outline of the tumour on the same crop as
    :func:`tumour_slice_image` (whole tumour yellow, core red)."""
    _, labels, _ = _crop(study, mask, _volume(study))
    resized = Image.fromarray(_display(labels)).resize((size, size), Image.Resampling.NEAREST)
    return outline_rgba(np.asarray(resized))


def tumour_thumbnail(study: StudyVolumes, mask: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of :func:`tumour_slice_image`."""
    buffer = io.BytesIO()
    Image.fromarray(tumour_slice_image(study, mask, size)).save(buffer, format="PNG")
    return buffer.getvalue()


def tumour_outline_png(study: StudyVolumes, mask: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of :func:`tumour_slice_outline`: the transparent outline drawn over the
    thumbnail (the query's and every hit's, the same drawing)."""
    buffer = io.BytesIO()
    Image.fromarray(tumour_slice_outline(study, mask, size)).save(buffer, format="PNG")
    return buffer.getvalue()
