"""T1 or T1C among a study's T1-weighted series: words never outrank evidence.

The header decision (:func:`dicom_conversion.recognise_series`) lets the contrast
attributes outrank the description. Between the T1-weighted series of one study the
images then decide pre- or post-contrast whenever the words could have fooled the
header decision: the series are put on one grid and compared voxel by voxel
(:func:`~dicom_conversion.image_recognition.enhancement_against`); the series that
enhances least against the others is the pre-contrast reference, and a series whose
enhancement against it reaches ``MIN_ENHANCEMENT_PERCENT`` is post-contrast. The
cases:

- the contrast attributes and the description of a series disagree;
- two original series claim the same sequence (both T1 or both T1C) and not every
  one of those claims comes from the attributes;
- no series' contrast claim comes from the attributes (descriptions only, or silence).

When every T1-weighted series says post-contrast by its attributes there is no
pre-contrast series to compare against, and the attributes stand. When the images do
not separate the series clearly the header decision stands too. The scores are
computed (and recorded on the decisions) only when the images are asked, so a study
whose header evidence is consistent pays nothing for them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np

from dicom_conversion.image_recognition import enhancement_against
from dicom_conversion.resampling import resample_to_grid
from dicom_conversion.sequences import MRSequence, SequenceDecision

__all__ = ["MIN_ENHANCEMENT_PERCENT", "decide_contrast_by_images"]

#: Post-contrast: at least this per cent of the head far brighter than in the reference
#: (:func:`dicom_conversion.image_recognition.enhancement_against`).
MIN_ENHANCEMENT_PERCENT = 0.05

_T1_FAMILY = (MRSequence.T1, MRSequence.T1C)


def _contested(family: list[SequenceDecision]) -> str | None:
    """Why the images must decide, or ``None`` when the header decision stands."""
    conflicts = [d for d in family if d.contrast_conflict]
    if conflicts:
        return "contrast attributes and description disagree"
    originals = [d for d in family if not d.derived]
    claims = Counter(d.sequence for d in originals)
    for sequence, count in claims.items():
        same = [d for d in originals if d.sequence is sequence]
        if count >= 2 and any(d.contrast_by_attributes is None for d in same):
            return f"{count} series claim {sequence.value}"
    if all(d.contrast_by_attributes is None for d in family):
        return (
            "no contrast attributes, descriptions only"
            if any(d.contrast_by_description is not None for d in family)
            else "no contrast attributes or keywords"
        )
    return None


def _common_grid(
    canonical: dict[str, tuple[np.ndarray, np.ndarray]], uids: list[str]
) -> dict[str, np.ndarray]:
    """The series resampled onto the first one's grid, thinned to about 2 mm."""
    array, affine = canonical[uids[0]]
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    step = max(1, round(2.0 / max(float(spacing.min()), 1e-3)))
    x, y, z = (len(range(0, n, step)) for n in array.shape)
    target = affine @ np.diag([step, step, step, 1.0])
    return {uid: resample_to_grid(*canonical[uid], (x, y, z), target) for uid in uids}


def _rises(
    canonical: dict[str, tuple[np.ndarray, np.ndarray]], uids: list[str]
) -> tuple[str, dict[str, float]] | None:
    """The pre-contrast reference and each series' enhancement against it, or None."""
    grids = _common_grid(canonical, uids)
    pair: dict[tuple[str, str], float] = {}
    for i, first in enumerate(uids):
        for second in uids[i + 1 :]:
            value = enhancement_against(grids[first], grids[second])
            if value is None:
                return None
            pair[first, second], pair[second, first] = value, -value
    gain = {u: sum(pair[v, u] for v in uids if v != u) for u in uids}
    reference = min(uids, key=gain.__getitem__)
    return reference, {u: 0.0 if u == reference else pair[reference, u] for u in uids}


def _record(decision: SequenceDecision, rise: float) -> SequenceDecision:
    return dataclasses.replace(
        decision,
        enhancement_percent=round(rise, 4),
        evidence=(*decision.evidence, ("post-contrast enhancement", f"{rise:.3f}%")),
    )


def decide_contrast_by_images(
    decisions: dict[str, SequenceDecision],
    canonical: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, SequenceDecision]:
    """The decisions with T1 / T1C settled by the images where the words could fool.

    Parameters
    ----------
    decisions:
        Every series' decision, by SeriesInstanceUID.
    canonical:
        The loaded series' canonical (array, affine), by SeriesInstanceUID.

    Returns
    -------
    dict[str, SequenceDecision]
        A new mapping; where the images were compared, the T1-weighted decisions carry
        ``enhancement_percent`` and, where the images decided,
        ``contrast_rule="images"`` and the comparison in the reason.
    """
    out = dict(decisions)
    uids = [u for u, d in decisions.items() if d.sequence in _T1_FAMILY and u in canonical]
    if len(uids) < 2:
        return out
    family = [out[u] for u in uids]
    why = _contested(family)
    if why is None or all(d.contrast_by_attributes for d in family):
        return out
    found = _rises(canonical, uids)
    if found is None:
        return out
    reference, rises = found
    for uid in uids:
        out[uid] = _record(out[uid], rises[uid])
    post = {u: rise >= MIN_ENHANCEMENT_PERCENT for u, rise in rises.items()}
    if not any(post.values()):
        for uid in uids:
            out[uid] = dataclasses.replace(
                out[uid],
                reason=f"{out[uid].reason}; images compared ({why}) but do not separate pre "
                f"from post ({rises[uid]:.3f}% of the head enhancing against the least "
                "enhancing series): header decision kept",
            )
        return out
    for uid, is_post in post.items():
        decided = out[uid]
        out[uid] = dataclasses.replace(
            decided,
            sequence=MRSequence.T1C if is_post else MRSequence.T1,
            source="image",
            contrast_rule="images",
            reason=f"{decided.reason}; image-based pre/post pair ({why}): "
            + (
                "the pre-contrast reference (least enhancing against the others)"
                if uid == reference
                else f"{rises[uid]:.3f}% of the head far brighter than in the pre-contrast "
                "reference series"
            )
            + f" -> {'post' if is_post else 'pre'}-contrast",
        )
    return out
