"""One synthetic case from ``(seed, index)``: plan, lesions, contrasts, pose, artefacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from models.synth.acquisition import (
    apply_pose,
    bias_field,
    blur,
    draw_pose,
    rician,
    to_scanner_range,
)
from models.synth.anatomy import load_template
from models.synth.contrast import DEFAULT_CONTRAST_JITTER, SEQUENCES, compose, draw_contrast
from models.synth.lesion_plan import grow, plan_lesions
from models.synth.lesion_render import LABEL_ENHANCING, LABEL_NECROTIC, render_lesions
from models.synth.plan import (
    ACQUISITION,
    GROWTH,
    HARD_CASE_RATE,
    MIRROR,
    TUMOUR,
    CasePlan,
    plan_case,
    stream,
)
from models.synth.truth import case_facts

__all__ = ["RenderedCase", "render_case"]


@dataclass(frozen=True, eq=False)
class RenderedCase:
    """The arrays of one case before they are wrapped in a ``StudyVolumes``.

    Attributes:
        plan: Who the case is.
        images: float32 (X, Y, Z) arrays with integer values, keyed by BraTS suffix
            ("t1n", "t1c", "t2w", "t2f").
        mask: uint8 BraTS labels on the same grid.
        affine: Voxel-to-RAS+ affine (mm).
        truth: Lesion facts (JSON-ready).
    """

    plan: CasePlan
    images: dict[str, NDArray[np.float32]]
    mask: NDArray[np.uint8]
    affine: NDArray[np.float64]
    truth: dict[str, Any]


def _drop_detached_oedema(labels: NDArray[np.uint8]) -> None:
    """Clear oedema islands that resampling cut off from every tumour core (in place)."""
    regions, count = ndi.label(labels > 0, structure=np.ones((3, 3, 3), dtype=bool))
    if count <= 1:
        return
    with_core = np.unique(regions[(labels == LABEL_NECROTIC) | (labels == LABEL_ENHANCING)])
    labels[(regions > 0) & ~np.isin(regions, with_core)] = 0


def render_case(
    seed: int,
    index: int,
    *,
    resolution_mm: float = 1.0,
    types: Sequence[str] | None = None,
    labels_only: bool = False,
    contrast_jitter: float = DEFAULT_CONTRAST_JITTER,
    hard_rate: float = HARD_CASE_RATE,
) -> RenderedCase:
    """Generate the images, labels and facts of case ``index`` of corpus ``seed``.

    With ``labels_only`` the images are skipped (``images`` is empty): the labels
    and facts are the same, for fast checks on many cases.
    """
    plan = plan_case(seed, index, types, hard_rate)
    template = load_template(float(resolution_mm))
    res = template.resolution_mm
    lesions = plan_lesions(plan, stream(seed, plan.patient_index, TUMOUR), template)
    if plan.timepoint > 1:
        lesions = grow(lesions, stream(seed, index, GROWTH))

    acquisition = stream(seed, index, ACQUISITION)
    contrast = draw_contrast(acquisition, contrast_jitter)
    mirrored = bool(stream(seed, plan.patient_index, MIRROR).random() < 0.5)
    pose = draw_pose(acquisition, flip_lr=mirrored)
    anatomy, paints, labels = render_lesions(template, lesions)

    support = ((anatomy.csf + anatomy.gm + anatomy.wm) > 0.5) | (labels > 0)
    for paint in paints:
        dura = paint.fractions.get("dura")
        if dura is not None:
            support[paint.box] |= dura > 0.3
    posed_support = (
        np.asarray(apply_pose(support.astype(np.float32), pose, template.affine, order=1)) > 0.5
    )
    posed_labels = np.asarray(apply_pose(labels, pose, template.affine, order=0), dtype=np.uint8)
    posed_labels[~posed_support] = 0
    _drop_detached_oedema(posed_labels)

    images: dict[str, NDArray[np.float32]] = {}
    for sequence in () if labels_only else SEQUENCES:
        image = compose(anatomy, paints, contrast, sequence)
        image = np.asarray(apply_pose(image, pose, template.affine, order=1), dtype=np.float32)
        image = blur(image, 0.5 / res)
        image *= bias_field(acquisition, template.shape)
        table = contrast.values[sequence]
        bright = max(table["csf"], table["gm"], table["wm"])
        sigma = float(acquisition.uniform(0.015, 0.035)) * bright
        image = rician(image, sigma, acquisition)
        image[~posed_support] = 0.0
        gain = float(acquisition.uniform(500.0, 2500.0)) / bright
        images[sequence] = to_scanner_range(image, gain)

    truth = case_facts(plan, lesions, pose, posed_labels, template.affine, res)
    truth["age"] = plan.age
    truth["sex"] = plan.sex
    return RenderedCase(
        plan=plan, images=images, mask=posed_labels, affine=template.affine.copy(), truth=truth
    )
