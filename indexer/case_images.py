"""Pictures of a case for people: three planes through the tumour, with its outline.

Every plane is drawn at one physical scale (:data:`MM_PER_PIXEL`) so that a query and an
archive case shown side by side compare in size. Grey levels are stretched between the
0.5th and 99.5th percentiles of the brain; the page applies window/level on top.
Orientation is radiological: axial and coronal with the patient's right on the viewer's
left, sagittal with anterior on the left; superior (or anterior, axial) at the top.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from dicom_conversion import MRSequence, StudyVolumes

__all__ = [
    "MM_PER_PIXEL",
    "PLANES",
    "CaseImages",
    "case_images",
    "outline_rgba",
    "png_data_uri",
]

MM_PER_PIXEL = 0.8
PLANES = ("axial", "coronal", "sagittal")
#: Outline colours (RGBA): whole tumour yellow, tumour core (labels 1 and 3) red.
WHOLE_COLOUR = (255, 214, 0, 255)
CORE_COLOUR = (255, 48, 48, 255)
_AXIS = {"axial": 2, "coronal": 1, "sagittal": 0}


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def outline_rgba(labels: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 4) transparent image with the 1-pixel outlines of a BraTS label slice:
    whole tumour (any label) in yellow, tumour core (labels 1 and 3) in red."""
    out = np.zeros((*labels.shape, 4), dtype=np.uint8)
    for region, colour in ((labels > 0, WHOLE_COLOUR), (np.isin(labels, (1, 3)), CORE_COLOUR)):
        edge = region & ~ndimage.binary_erosion(region, border_value=0)
        out[edge] = colour
    return out


@dataclass(frozen=True)
class CaseImages:
    """PNG images of one case: per plane, one grey image per sequence and one outline."""

    slices: dict[str, int]
    grey: dict[str, dict[str, bytes]]
    outline: dict[str, bytes]
    mm_per_pixel: float = MM_PER_PIXEL

    def to_json(self) -> dict[str, Any]:
        """``{"slices", "mm_per_pixel", "planes": {plane: {"outline", "sequences":
        {sequence: data URI}}}}``."""
        return {
            "slices": self.slices,
            "mm_per_pixel": self.mm_per_pixel,
            "planes": {
                plane: {
                    "outline": png_data_uri(self.outline[plane]),
                    "sequences": {s: png_data_uri(p) for s, p in self.grey[plane].items()},
                }
                for plane in PLANES
            },
        }


def _brain_box(study: StudyVolumes, mask: np.ndarray) -> tuple[slice, slice, slice]:
    """The bounding box of the head (any sequence above zero) and the tumour, padded."""
    inside = np.zeros(mask.shape, dtype=bool)
    for array in study.arrays.values():
        inside |= array > 0
    inside |= mask > 0
    if not inside.any():
        return (slice(None), slice(None), slice(None))
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.nonzero(inside.any(axis=other))[0]
        box.append(slice(max(0, int(hits[0]) - 3), min(mask.shape[axis], int(hits[-1]) + 4)))
    return box[0], box[1], box[2]


def _plane(volume: np.ndarray, plane: str, index: int) -> np.ndarray:
    """The 2-D plane as displayed (see the module docstring), rows then columns."""
    if plane == "axial":
        cut = volume[:, :, index]  # (R, A)
    elif plane == "coronal":
        cut = volume[:, index, :]  # (R, S)
    else:
        cut = volume[index, :, :]  # (A, S)
    # Transposed, the rows run along the second axis (A or S) and the columns along the
    # first (R or A); flipping both puts A/S at the top and R/A on the viewer's left.
    return np.flip(cut.T, axis=(0, 1))


def _display_size(shape: tuple[int, ...], plane: str, spacing: np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels of a displayed plane at :data:`MM_PER_PIXEL`."""
    row_axis, col_axis = {"axial": (1, 0), "coronal": (2, 0), "sagittal": (2, 1)}[plane]
    height = max(1, round(shape[0] * spacing[row_axis] / MM_PER_PIXEL))
    width = max(1, round(shape[1] * spacing[col_axis] / MM_PER_PIXEL))
    return width, height


def _grey(volume: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    values = volume[inside] if inside.any() else volume.reshape(-1)
    lo, hi = np.percentile(values, [0.5, 99.5]) if values.size else (0.0, 1.0)
    return float(lo), float(max(hi, lo + 1e-6))


def case_images(study: StudyVolumes, mask: np.ndarray) -> CaseImages:
    """Axial, coronal and sagittal planes through the tumour's largest cross-sections.

    Raises
    ------
    ValueError
        When the study holds no sequence or ``mask`` does not match its grid.
    """
    if not study.arrays:
        raise ValueError("Argument 'study' holds no MR sequence.")
    shape = next(iter(study.arrays.values())).shape
    if mask.shape != shape:
        raise ValueError(f"Argument 'mask' has shape {mask.shape}, the study {shape}.")
    box = _brain_box(study, mask)
    labels = np.asarray(mask[box], dtype=np.uint8)
    spacing = np.abs(np.asarray(study.spacing, dtype=np.float64))
    slices: dict[str, int] = {}
    for plane in PLANES:
        axis = _AXIS[plane]
        areas = (labels > 0).sum(axis=tuple(a for a in range(3) if a != axis))
        slices[plane] = int(np.argmax(areas)) if areas.max() > 0 else labels.shape[axis] // 2
    grey: dict[str, dict[str, bytes]] = {plane: {} for plane in PLANES}
    ordered = [s for s in MRSequence if s in study.arrays]
    for sequence in ordered:
        volume = np.asarray(study.arrays[sequence][box], dtype=np.float32)
        lo, hi = _grey(volume, volume > 0)
        for plane in PLANES:
            cut = _plane(volume, plane, slices[plane])
            scaled = (np.clip((cut - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
            size = _display_size(cut.shape, plane, spacing)
            image = Image.fromarray(scaled).resize(size, Image.Resampling.BILINEAR)
            grey[plane][sequence.value] = _png(np.asarray(image))
    outline: dict[str, bytes] = {}
    for plane in PLANES:
        cut = _plane(labels, plane, slices[plane])
        size = _display_size(cut.shape, plane, spacing)
        resized = np.asarray(Image.fromarray(cut).resize(size, Image.Resampling.NEAREST))
        outline[plane] = _png(outline_rgba(resized))
    offsets = {"axial": box[2].start or 0, "coronal": box[1].start or 0}
    offsets["sagittal"] = box[0].start or 0
    return CaseImages(
        slices={p: slices[p] + offsets[p] for p in PLANES}, grey=grey, outline=outline
    )
