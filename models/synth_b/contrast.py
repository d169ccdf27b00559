"""Tissue intensities of one acquisition, per sequence, relative to white matter.

Drawn fresh for every case and sequence within the orderings of spec section 2 (and the
lesion signs of section 3); grey-white contrast strength is random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SEQUENCES", "Contrast", "sample_contrasts"]

SEQUENCES = ("t1n", "t1c", "t2w", "t2f")


@dataclass(frozen=True)
class Contrast:
    """Mean intensity of each tissue on one sequence (white matter = 1) and its gain."""

    wm: float
    gm: float
    csf: float
    dura: float
    oedema: float
    necrosis: float
    enhancing: float
    non_enhancing: float
    meningioma: float
    cyst: float
    dural_tail: float
    choroid: float
    vessel: float
    gain: float
    texture: float


def _t1(rng: np.random.Generator, contrast: float) -> dict[str, float]:
    gm = 1.0 - contrast
    csf = gm * rng.uniform(0.2, 0.5)
    return {
        "wm": 1.0,
        "gm": gm,
        "csf": csf,
        "dura": csf * rng.uniform(0.8, 1.2),
        "oedema": gm * rng.uniform(0.78, 0.94),
        "necrosis": csf * rng.uniform(1.0, 1.5),
        "enhancing": gm * rng.uniform(0.85, 1.0),
        "non_enhancing": gm * rng.uniform(0.7, 0.9),
        "meningioma": gm * rng.uniform(0.85, 1.02),
        "cyst": csf * rng.uniform(1.0, 1.3),
    }


def _post_contrast(rng: np.random.Generator, t1: dict[str, float]) -> dict[str, float]:
    out = {name: value * rng.uniform(0.97, 1.03) for name, value in t1.items()}
    out["wm"] = 1.0
    out["gm"] = min(out["gm"], 0.97)
    out["enhancing"] = rng.uniform(1.3, 1.9)
    out["meningioma"] = rng.uniform(1.4, 2.1)
    out["dura"] = t1["gm"] * rng.uniform(0.8, 1.05)
    out["dural_tail"] = out["meningioma"] * rng.uniform(0.6, 0.9)
    out["choroid"] = rng.uniform(1.1, 1.5)
    out["vessel"] = rng.uniform(1.1, 1.6)
    return out


def _t2(rng: np.random.Generator) -> dict[str, float]:
    gm = 1.0 + rng.uniform(0.2, 0.55)
    csf = gm * rng.uniform(1.6, 2.6)
    return {
        "wm": 1.0,
        "gm": gm,
        "csf": csf,
        "dura": rng.uniform(0.4, 0.7),
        "oedema": min(gm * rng.uniform(1.2, 1.6), 0.9 * csf),
        "necrosis": csf * rng.uniform(0.8, 1.0),
        "enhancing": gm * rng.uniform(1.05, 1.3),
        "non_enhancing": min(gm * rng.uniform(1.35, 1.8), 0.95 * csf),
        "meningioma": gm * rng.uniform(0.9, 1.2),
        "cyst": csf * rng.uniform(0.9, 1.0),
    }


def _flair(rng: np.random.Generator, mismatch: bool) -> dict[str, float]:
    gm = 1.0 + rng.uniform(0.12, 0.4)
    csf = rng.uniform(0.15, 0.45)
    non_enhancing = gm * (rng.uniform(0.7, 0.95) if mismatch else rng.uniform(1.25, 1.7))
    return {
        "wm": 1.0,
        "gm": gm,
        "csf": csf,
        "dura": csf * rng.uniform(0.8, 1.3),
        "oedema": gm * rng.uniform(1.3, 1.9),
        "necrosis": rng.uniform(0.5, 1.3),
        "enhancing": gm * rng.uniform(1.05, 1.4),
        "non_enhancing": non_enhancing,
        "meningioma": gm * rng.uniform(0.95, 1.2),
        "cyst": csf * rng.uniform(1.0, 2.0),
    }


def sample_contrasts(
    rng: np.random.Generator, *, flair_mismatch: bool = False
) -> dict[str, Contrast]:
    """The four sequences' tissue intensities for one acquisition."""
    t1 = _t1(rng, float(rng.uniform(0.15, 0.38)))
    tables = {
        "t1n": t1,
        "t1c": _post_contrast(rng, t1),
        "t2w": _t2(rng),
        "t2f": _flair(rng, flair_mismatch),
    }
    contrasts = {}
    for sequence in SEQUENCES:
        table = {"dural_tail": 0.0, "choroid": 0.0, "vessel": 0.0, **tables[sequence]}
        if sequence != "t1c":
            table["dural_tail"] = table["dura"]
            table["choroid"] = table["csf"] * 1.1
            table["vessel"] = table["csf"]
        contrasts[sequence] = Contrast(
            **{k: float(v) for k, v in table.items()},
            gain=float(rng.uniform(300.0, 1500.0)),
            texture=float(rng.uniform(0.015, 0.05)),
        )
    return contrasts
