"""T1 or T1C among a study's T1-weighted series: words never outrank evidence.

The header decision (:func:`dicom_conversion.recognise_series`) lets the contrast
attributes outrank the description. Between the T1-weighted series of one study the
images then decide pre- or post-contrast (the post-contrast enhancement of each series
against the least enhanced one, the pre-contrast reference) whenever the words could
have fooled the header decision:

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

from dicom_conversion.image_recognition import post_contrast_score
from dicom_conversion.sequences import MRSequence, SequenceDecision

__all__ = ["MIN_ENHANCEMENT_PERCENT", "MIN_ENHANCEMENT_RATIO", "decide_contrast_by_images"]

#: Post-contrast: at least this many more per cent of brain voxels far above white matter
MIN_ENHANCEMENT_PERCENT = 0.05
#: ... and at least this many times the pre-contrast series' per cent.
MIN_ENHANCEMENT_RATIO = 1.5

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


def _score(canonical: tuple[np.ndarray, np.ndarray]) -> float | None:
    array, affine = canonical
    spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    return post_contrast_score(array, (spacing[0], spacing[1], spacing[2]))


def _record(decision: SequenceDecision, score: float | None) -> SequenceDecision:
    if score is None:
        return decision
    return dataclasses.replace(
        decision,
        enhancement_percent=round(score, 4),
        evidence=(*decision.evidence, ("post-contrast enhancement", f"{score:.3f}%")),
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
    scores = {uid: _score(canonical[uid]) for uid in uids}
    for uid in uids:
        out[uid] = _record(out[uid], scores[uid])
    known = {u: s for u, s in scores.items() if s is not None}
    if len(known) < 2:
        return out
    reference = min(known, key=known.__getitem__)
    low = known[reference]
    post = {
        u: s - low >= MIN_ENHANCEMENT_PERCENT and s >= MIN_ENHANCEMENT_RATIO * low
        for u, s in known.items()
    }
    if not any(post.values()):
        for uid in known:
            out[uid] = dataclasses.replace(
                out[uid],
                reason=f"{out[uid].reason}; images compared ({why}) but do not "
                f"separate pre from post ({known[uid]:.3f}% vs {low:.3f}%): header decision kept",
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
            f"{known[uid]:.3f}% of brain far above white matter against {low:.3f}% "
            "in the pre-contrast reference "
            f"{'series' if uid != reference else '(this series)'}"
            f" -> {'post' if is_post else 'pre'}-contrast",
        )
    return out
