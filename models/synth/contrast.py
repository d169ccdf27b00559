"""Four MR contrasts from tissue classes, with per-case random jitter.

Relative class intensities per sequence (white matter on T1 = 1). The values
follow the textbook appearance: T1 WM > GM > CSF; T2 CSF bright, WM darker than
GM; FLAIR like T2 with CSF suppressed; necrosis T1-dark and T2-bright; oedema
T2/FLAIR-bright; enhancing tumour and meningioma bright only after contrast;
meningioma iso-intense to grey matter on T1 and T2. Each case draws its own
values around these (the SynthSeg idea of random contrasts), its own texture
weight and its own scanner gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from models.synth.lesion_render import Anatomy, LesionPaint

__all__ = [
    "BASE_INTENSITIES",
    "CLASSES",
    "DEFAULT_CONTRAST_JITTER",
    "SEQUENCES",
    "Contrast",
    "compose",
    "draw_contrast",
]

SEQUENCES = ("t1n", "t1c", "t2w", "t2f")
"""BraTS 2023 suffixes, in the channel order T1, T1C, T2, FLAIR."""

CLASSES = (
    "csf",
    "gm",
    "wm",
    "necrosis",
    "enhancing",
    "non_enhancing",
    "meningioma",
    "oedema",
    "dura",
)

BASE_INTENSITIES: dict[str, dict[str, float]] = {
    #          csf   gm    wm    nec   enh   net   men   oed   dura
    "t1n": dict(zip(CLASSES, (0.28, 0.62, 1.00, 0.30, 0.58, 0.52, 0.60, 0.76, 0.35), strict=True)),
    "t1c": dict(zip(CLASSES, (0.30, 0.64, 1.00, 0.32, 1.45, 0.55, 1.40, 0.78, 1.15), strict=True)),
    "t2w": dict(zip(CLASSES, (1.00, 0.50, 0.34, 0.95, 0.62, 0.82, 0.55, 0.80, 0.25), strict=True)),
    "t2f": dict(zip(CLASSES, (0.10, 0.62, 0.44, 0.38, 0.72, 0.88, 0.62, 0.95, 0.30), strict=True)),
}

# Sign and size of the template texture on each sequence (T1-derived).
_TEXTURE = {"t1n": 1.0, "t1c": 1.0, "t2w": -0.8, "t2f": -0.6}


@dataclass(frozen=True)
class Contrast:
    """Per-case intensities: ``values[sequence][tissue_class]`` and a texture weight."""

    values: dict[str, dict[str, float]]
    texture: dict[str, float]
    heterogeneity: float


#: Default relative jitter of every class intensity (the training corpora's range).
DEFAULT_CONTRAST_JITTER = 0.08


def draw_contrast(rng: np.random.Generator, jitter: float = DEFAULT_CONTRAST_JITTER) -> Contrast:
    """Jitter every class intensity by up to +-``jitter``, keeping the textbook ordering.

    The enhancement strength (+-15 % at the default) and the texture weight (+-30 %)
    scale with ``jitter`` too, so a held-out corpus can be drawn from wider contrast
    ranges than the training corpora (``simcase synth --contrast-jitter``).
    """
    scale = jitter / DEFAULT_CONTRAST_JITTER
    values: dict[str, dict[str, float]] = {}
    for sequence, table in BASE_INTENSITIES.items():
        jittered = {c: v * float(rng.uniform(1.0 - jitter, 1.0 + jitter)) for c, v in table.items()}
        # Keep the grey/white contrast, the tell-tale of each sequence, the right way round.
        if sequence in ("t1n", "t1c"):
            jittered["gm"] = min(jittered["gm"], 0.85 * jittered["wm"])
        else:
            jittered["gm"] = max(jittered["gm"], 1.15 * jittered["wm"])
        values[sequence] = jittered
    # Enhancement strength varies with dose and timing.
    boost = float(rng.uniform(1.0 - 0.15 * scale, 1.0 + 0.15 * scale))
    for cls in ("enhancing", "meningioma", "dura"):
        values["t1c"][cls] *= boost
    spread = min(0.9, 0.3 * scale)
    texture = {s: w * float(rng.uniform(1.0 - spread, 1.0 + spread)) for s, w in _TEXTURE.items()}
    return Contrast(values=values, texture=texture, heterogeneity=float(rng.uniform(0.06, 0.16)))


def compose(
    anatomy: Anatomy, paints: list[LesionPaint], contrast: Contrast, sequence: str
) -> NDArray[np.float32]:
    """Noise-free image of one sequence on the template grid (relative units)."""
    table = contrast.values[sequence]
    brain = anatomy.csf + anatomy.gm + anatomy.wm
    image = (
        np.float32(table["csf"]) * anatomy.csf
        + np.float32(table["gm"]) * anatomy.gm
        + np.float32(table["wm"]) * anatomy.wm
    )
    image += np.float32(contrast.texture[sequence] * table["wm"]) * anatomy.texture * (brain > 0.5)
    for paint in paints:
        view = image[paint.box]
        total = np.zeros(view.shape, dtype=np.float32)
        added = np.zeros(view.shape, dtype=np.float32)
        shade = paint.shade if paint.shade is not None else np.zeros_like(view)
        for cls, fraction in paint.fractions.items():
            weight = fraction * np.float32(0.85) if cls == "oedema" else fraction
            level = np.float32(table[cls]) * (1.0 + np.float32(contrast.heterogeneity) * shade)
            total += weight
            added += weight * level
        keep = np.clip(1.0 - total, 0.0, 1.0)
        image[paint.box] = view * keep + added
    return np.asarray(np.maximum(image, 0.0), dtype=np.float32)
