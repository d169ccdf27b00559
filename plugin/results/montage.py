"""The Secondary Capture montage's pixels: the query slice beside the similar cases.

Every tile carries its label burned in (rank, diagnosis, similarity, case id) and the
montage carries "NOT FOR DIAGNOSTIC USE" at the top and bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from plugin.results.facts import ResultHit

__all__ = ["NOT_FOR_DIAGNOSTIC_USE", "MontageRow", "render_montage", "to_rgb8"]

NOT_FOR_DIAGNOSTIC_USE = "NOT FOR DIAGNOSTIC USE"

_TILE = 224
_LABEL = 56
_GAP = 6
_BANNER = 34
_ROW_TITLE = 26
_BG = (0, 0, 0)
_FG = (255, 255, 255)
_WARN = (255, 200, 0)


@dataclass(frozen=True)
class MontageRow:
    """One row of tiles under an optional title (e.g. a diagnosis)."""

    title: str | None
    hits: Sequence[ResultHit]


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """A 2D grey or (H, W, 3) image as uint8 RGB, grey windowed to its 1st-99th percentile."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 3 and arr.dtype == np.uint8:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 3:
        grey = arr.astype(np.float64)
    elif arr.ndim == 2:
        grey = arr.astype(np.float64)
    else:
        raise ValueError(f"Argument 'image' must be 2D or (H, W, 3), got shape {arr.shape}.")
    finite = grey[np.isfinite(grey)]
    if finite.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = np.percentile(finite, [1, 99])
        if hi <= lo:
            lo, hi = float(finite.min()), float(finite.max()) + 1e-6
    scaled = np.clip((np.nan_to_num(grey, nan=lo) - lo) / (hi - lo), 0, 1) * 255
    out = scaled.round().astype(np.uint8)
    return out if out.ndim == 3 else np.repeat(out[:, :, None], 3, axis=2)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _tile(
    image: np.ndarray | None, lines: Sequence[str], *, highlight: bool = False
) -> Image.Image:
    tile = Image.new("RGB", (_TILE, _TILE + _LABEL), _BG)
    if image is not None:
        picture = Image.fromarray(to_rgb8(image), "RGB")
        picture.thumbnail((_TILE, _TILE), Image.Resampling.BILINEAR)
        x = (_TILE - picture.width) // 2
        y = (_TILE - picture.height) // 2
        tile.paste(picture, (x, y))
    else:
        ImageDraw.Draw(tile).text((8, _TILE // 2), "(no image)", fill=_FG, font=_font(14))
    draw = ImageDraw.Draw(tile)
    if highlight:
        draw.rectangle([0, 0, _TILE - 1, _TILE + _LABEL - 1], outline=_WARN, width=2)
    font = _font(14)
    for i, line in enumerate(lines[:3]):
        draw.text((6, _TILE + 3 + 17 * i), line, fill=_FG, font=font)
    return tile


def _hit_lines(hit: ResultHit) -> list[str]:
    return [
        f"#{hit.rank} {hit.diagnosis}",
        f"similarity {hit.similarity:.2f}",
        hit.case_id,
    ]


def render_montage(
    query_image: np.ndarray,
    rows: Sequence[MontageRow],
    hit_images: dict[str, np.ndarray],
    *,
    title: str,
    footer: str,
) -> np.ndarray:
    """Draw the montage: the query tile, then one row of tiles per :class:`MontageRow`.

    The query tile opens the first row; the other rows start under it, each under its
    title. Returns an (H, W, 3) uint8 RGB array.
    """
    if not rows:
        raise ValueError("Argument 'rows' must hold at least one row.")
    per_row = max(len(r.hits) for r in rows)
    columns = 1 + max(per_row, 1)
    cell_w, cell_h = _TILE + _GAP, _TILE + _LABEL + _GAP
    row_heights = [cell_h + (_ROW_TITLE if r.title else 0) for r in rows]
    width = _GAP + columns * cell_w
    height = 2 * _BANNER + sum(row_heights) + _GAP
    canvas = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(canvas)
    banner_font = _font(18)
    draw.text((_GAP, 8), f"{title} - {NOT_FOR_DIAGNOSTIC_USE}", fill=_WARN, font=banner_font)
    draw.text(
        (_GAP, height - _BANNER + 8),
        f"{footer} - {NOT_FOR_DIAGNOSTIC_USE}",
        fill=_WARN,
        font=banner_font,
    )
    y = _BANNER
    for index, row in enumerate(rows):
        if row.title:
            draw.text((_GAP + cell_w, y + 4), row.title, fill=_WARN, font=_font(16))
            y += _ROW_TITLE
        if index == 0:
            canvas.paste(
                _tile(query_image, ["QUERY", "this study"], highlight=True), (_GAP, y + _GAP)
            )
        for column, hit in enumerate(row.hits, start=1):
            tile = _tile(hit_images.get(hit.case_id), _hit_lines(hit))
            canvas.paste(tile, (_GAP + column * cell_w, y + _GAP))
        y += cell_h
    return np.asarray(canvas, dtype=np.uint8).copy()
