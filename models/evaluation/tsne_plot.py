"""The seed prototype's t-SNE view of the archive, coloured by diagnosis (Pillow only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sklearn.manifold import TSNE

__all__ = ["tsne_plot"]

_COLOURS = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (255, 127, 14), (148, 103, 189)]


def tsne_plot(
    vectors: np.ndarray,
    diagnoses: Sequence[str],
    path: Path,
    *,
    title: str = "",
    size: int = 640,
    seed: int = 0,
) -> np.ndarray:
    """Embed ``vectors`` in 2-D with t-SNE and draw a scatter plot PNG with a legend.

    Returns:
        The 2-D coordinates ``[n, 2]``.
    """
    n = len(vectors)
    perplexity = float(max(2.0, min(30.0, (n - 1) / 3.0)))
    points = TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine"
    ).fit_transform(np.asarray(vectors, dtype=np.float64))
    lo, hi = points.min(axis=0), points.max(axis=0)
    scaled = (points - lo) / np.maximum(hi - lo, 1e-9)
    margin = 40
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    classes = sorted(set(diagnoses))
    colour = {c: _COLOURS[i % len(_COLOURS)] for i, c in enumerate(classes)}
    for (x, y), diagnosis in zip(scaled, diagnoses, strict=True):
        px = margin + x * (size - 2 * margin)
        py = margin + (1.0 - y) * (size - 2 * margin)
        draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill=colour[diagnosis])
    for i, diagnosis in enumerate(classes):
        draw.rectangle((10, 10 + 16 * i, 20, 20 + 16 * i), fill=colour[diagnosis])
        draw.text((26, 9 + 16 * i), diagnosis, fill="black")
    if title:
        draw.text((10, size - 20), title, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return np.asarray(points)
