"""Deciding the contrast of a brain MR volume from its pixels.

Used when the header and description are missing or disagree. The volume is
split by depth below the brain surface: a cortical shell (mostly grey matter),
an intermediate layer (mostly white matter) and the deep centre (ventricles,
i.e. CSF, with deep white matter). Then:

- CSF bright in the centre (high upper tail of the deep region): T2;
- otherwise grey matter brighter than white matter: FLAIR; darker: T1.

Between two T1-weighted series of one study, the one with the heavier bright
tail (enhancing vessels, dura, choroid plexus, lesions) is post-contrast.
Assumes a brain-extracted or mostly brain field of view; a decision that the
features cannot support returns ``None`` instead of a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dicom_conversion.sequences import MRSequence

__all__ = ["ImageFeatures", "classify_by_image", "image_features", "post_contrast_score"]

_CSF_BRIGHT = 1.25
_GM_WM_MARGIN = 0.03


@dataclass(frozen=True)
class ImageFeatures:
    """Relative intensities (to the brain median) the image decision uses."""

    cortex_to_white: float
    deep_upper_tail: float
    bright_tail: float


def _brain_mask(array: np.ndarray) -> np.ndarray:
    positive = array[array > 0]
    if positive.size == 0:
        return np.zeros(array.shape, dtype=bool)
    threshold = 0.15 * float(np.percentile(positive, 99))
    mask = array > threshold
    mask = ndimage.binary_closing(mask, iterations=2)
    filled: np.ndarray = ndimage.binary_fill_holes(mask)
    return filled


def image_features(array: np.ndarray, spacing: tuple[float, float, float]) -> ImageFeatures | None:
    """Features of a canonical (X, Y, Z) volume, or ``None`` if there is no brain-sized object."""
    step = max(1, round(2.0 / max(min(spacing), 1e-3)))
    small = np.asarray(array[::step, ::step, ::step], dtype=np.float32)
    sampling = tuple(float(s) * step for s in spacing)
    mask = _brain_mask(small)
    if mask.sum() < 500:
        return None
    depth = ndimage.distance_transform_edt(mask, sampling=sampling)
    max_depth = float(depth.max())
    if max_depth < 20.0:
        return None
    median = float(np.median(small[mask]))
    if median <= 0:
        return None
    cortex = small[(depth > 1.0) & (depth <= 6.0)]
    white = small[(depth > 10.0) & (depth <= 0.5 * max_depth)]
    deep = small[depth > 0.55 * max_depth]
    if min(cortex.size, white.size, deep.size) < 20:
        return None
    return ImageFeatures(
        cortex_to_white=float(np.median(cortex) / max(np.median(white), 1e-6)),
        deep_upper_tail=float(np.percentile(deep, 95) / median),
        bright_tail=float(np.percentile(small[mask], 99.5) / median),
    )


def classify_by_image(
    array: np.ndarray, spacing: tuple[float, float, float]
) -> tuple[MRSequence | None, str]:
    """T1, T2 or FLAIR from the pixels of a canonical volume, with the reason.

    Returns ``(None, reason)`` when the features do not decide.
    """
    features = image_features(array, spacing)
    if features is None:
        return None, "image-based: no brain-sized object found"
    facts = (
        f"cortex/white {features.cortex_to_white:.2f}, "
        f"deep CSF upper tail {features.deep_upper_tail:.2f}"
    )
    if features.deep_upper_tail >= _CSF_BRIGHT:
        return MRSequence.T2, f"image-based: bright CSF in the ventricles ({facts})"
    if features.cortex_to_white >= 1.0 + _GM_WM_MARGIN:
        return MRSequence.FLAIR, f"image-based: dark CSF, grey brighter than white ({facts})"
    if features.cortex_to_white <= 1.0 - _GM_WM_MARGIN:
        return MRSequence.T1, f"image-based: dark CSF, white brighter than grey ({facts})"
    return None, f"image-based: undecided ({facts})"


def post_contrast_score(array: np.ndarray, spacing: tuple[float, float, float]) -> float | None:
    """Heaviness of the bright tail (99.5th percentile / brain median); higher after contrast."""
    features = image_features(array, spacing)
    return None if features is None else features.bright_tail
