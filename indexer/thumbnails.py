"""A small picture of a tumour: the largest axial slice, cropped around the lesion."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from dicom_conversion import MRSequence, StudyVolumes

__all__ = ["THUMBNAIL_SIZE", "tumour_slice_image", "tumour_thumbnail"]

THUMBNAIL_SIZE = 160
_PREFERRED = (MRSequence.T1C, MRSequence.FLAIR, MRSequence.T2, MRSequence.T1)


def tumour_slice_image(
    study: StudyVolumes, mask: np.ndarray, size: int = THUMBNAIL_SIZE
) -> np.ndarray:
    """uint8 (size, size) image of the tumour's largest axial slice, radiological view.

    The crop is square, centred on the lesion, with a 60% margin and at least 60 mm wide.
    Rows run anterior to posterior and columns patient right to left (as a radiologist
    reads an axial slice).
    """
    sequence = next((s for s in _PREFERRED if s in study.arrays), None)
    if sequence is None:
        raise ValueError("the study holds no MR sequence")
    volume = study.arrays[sequence]
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
    padded = np.pad(plane, ((half[0], half[0]), (half[1], half[1])), mode="constant")
    crop = padded[lo[0] + half[0] : lo[0] + 3 * half[0], lo[1] + half[1] : lo[1] + 3 * half[1]]
    lo_v, hi_v = np.percentile(plane[plane > 0], [1, 99.5]) if np.any(plane > 0) else (0, 1)
    scaled = np.clip((crop - lo_v) / max(hi_v - lo_v, 1e-6), 0, 1) * 255
    # Canonical RAS array: axis 0 runs to the patient's right, axis 1 anterior. Display:
    # rows anterior at the top, patient right on the viewer's left.
    display = np.flip(scaled.T, axis=(0, 1))
    image = Image.fromarray(display.astype(np.uint8)).resize(
        (size, size), Image.Resampling.BILINEAR
    )
    return np.asarray(image)


def tumour_thumbnail(study: StudyVolumes, mask: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of :func:`tumour_slice_image`."""
    buffer = io.BytesIO()
    Image.fromarray(tumour_slice_image(study, mask, size)).save(buffer, format="PNG")
    return buffer.getvalue()
