"""A PNG montage for people: the tumour's largest axial slice in every sequence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from dicom_conversion import MRSequence, StudyVolumes

__all__ = ["PreviewRow", "preview_row", "write_preview"]

_TILE = 160
_COLUMNS = ("T1", "T1C", "T2", "FLAIR", "labels")
_LABEL_COLOURS = np.array([[0, 0, 0], [220, 60, 60], [90, 200, 90], [250, 220, 60]], dtype=np.uint8)


@dataclass(frozen=True)
class PreviewRow:
    """One case's tiles (uint8 RGB, ``_TILE`` square) and its caption."""

    caption: str
    tiles: tuple[NDArray[np.uint8], ...]


def _display(slice_xy: NDArray[Any]) -> NDArray[Any]:
    """Axial slice (X right, Y anterior) to radiological display: patient's right on the left."""
    return np.ascontiguousarray(np.asarray(slice_xy)[::-1, ::-1].T)


def _square(gray: NDArray[np.uint8]) -> NDArray[np.uint8]:
    image = Image.fromarray(gray)
    side = max(image.size)
    canvas = Image.new(image.mode, (side, side), 0)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    resized = canvas.resize((_TILE, _TILE), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


def preview_row(study: StudyVolumes, caption: str) -> PreviewRow:
    """Tiles of the axial slice with the largest tumour core (whole tumour if no core)."""
    if study.mask is None:
        raise ValueError("Argument 'study' must carry a mask for a preview.")
    mask = study.mask
    core = (mask == 1) | (mask == 3)
    area = core.sum(axis=(0, 1)) if core.any() else (mask > 0).sum(axis=(0, 1))
    z = int(np.argmax(area))
    tiles = []
    for sequence in MRSequence.ordered():
        plane = np.asarray(study.arrays[sequence][:, :, z], dtype=np.float32)
        inside = plane[plane > 0]
        top = float(np.percentile(inside, 99.5)) if inside.size else 1.0
        gray = (np.clip(_display(plane) / max(top, 1.0), 0, 1) * 255).astype(np.uint8)
        tiles.append(np.repeat(_square(gray)[:, :, None], 3, axis=2))
    base = np.asarray(study.arrays[MRSequence.FLAIR][:, :, z], dtype=np.float32)
    inside = base[base > 0]
    top = float(np.percentile(inside, 99.5)) if inside.size else 1.0
    shade = np.clip(_display(base) / max(top, 1.0), 0, 1) * 160
    labels = _display(mask[:, :, z]).astype(np.intp)
    rgb = np.repeat(shade[:, :, None], 3, axis=2)
    coloured = labels > 0
    rgb[coloured] = 0.4 * rgb[coloured] + 0.6 * _LABEL_COLOURS[labels[coloured]]
    tiles.append(np.stack([_square(rgb[:, :, c].astype(np.uint8)) for c in range(3)], axis=2))
    return PreviewRow(caption=caption, tiles=tuple(tiles))


def write_preview(rows: list[PreviewRow], path: Path) -> Path:
    """Write the montage (one row per case, columns T1, T1C, T2, FLAIR, labels) as PNG."""
    header = 18
    caption = 16
    width = _TILE * len(_COLUMNS)
    height = header + len(rows) * (_TILE + caption)
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    for c, name in enumerate(_COLUMNS):
        draw.text((c * _TILE + 4, 3), name, fill=(255, 255, 255))
    for r, row in enumerate(rows):
        top = header + r * (_TILE + caption)
        draw.text((4, top + 2), row.caption, fill=(200, 200, 255))
        for c, tile in enumerate(row.tiles):
            canvas.paste(Image.fromarray(tile), (c * _TILE, top + caption))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG", optimize=True)
    return path
