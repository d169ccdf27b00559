"""Spec sections 2-4, measured on rendered 2 mm images (noise, blur and bias included)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from models.synth_c.case import SynthCase, label_volume
from models.synth_c.tissue import OEDEMA_BED, Tissue
from models.synth_c.truth import core_components


def _median(case: SynthCase, sequence: str, mask: NDArray[np.bool_]) -> float:
    assert mask.sum() > 20
    return float(np.median(case.images[sequence][mask]))


def _normal(case: SynthCase) -> dict[str, NDArray[np.bool_]]:
    """Tissue masks away from each other's partial volume (CSF: the ventricles)."""
    t = case.tissue
    csf = t == Tissue.CSF
    return {
        "wm": ndimage.binary_erosion(t == Tissue.WHITE_MATTER, iterations=2),
        "gm": (t == Tissue.GREY_MATTER) & ~ndimage.binary_dilation(csf),
        "csf": ndimage.binary_erosion(csf, iterations=1),
    }


def test_normal_tissue_orderings_on_every_sequence(cases_2mm: list[SynthCase]) -> None:
    for case in cases_2mm:
        m = _normal(case)
        med = {s: {k: _median(case, s, v) for k, v in m.items()} for s in case.images}
        t1, t1c, t2, flair = med["t1n"], med["t1c"], med["t2w"], med["t2f"]
        assert t1["wm"] > t1["gm"] > t1["csf"], (case.plan.case_id, t1)
        assert t1c["wm"] > t1c["gm"] > t1c["csf"], (case.plan.case_id, t1c)
        assert t2["csf"] > t2["gm"] > t2["wm"], (case.plan.case_id, t2)
        assert flair["gm"] > flair["wm"] > flair["csf"], (case.plan.case_id, flair)


def test_lesion_signals(cases_2mm: list[SynthCase]) -> None:
    seen_enhancing = seen_necrosis = seen_oedema = 0
    for case in cases_2mm:
        wm = _normal(case)["wm"]
        seg = case.seg
        t1c_wm = _median(case, "t1c", wm)
        if (seg == 3).sum() > 20:
            seen_enhancing += 1
            enhancing = seg == 3
            # Enhancement: label 3 gains more from contrast than white matter does.
            gain_enh = _median(case, "t1c", enhancing) / _median(case, "t1n", enhancing)
            gain_wm = t1c_wm / _median(case, "t1n", wm)
            assert gain_enh > 1.1 * gain_wm, (case.plan.case_id, gain_enh, gain_wm)
            assert np.percentile(case.images["t1c"][enhancing], 90) > 1.05 * t1c_wm
        necrotic = ndimage.binary_erosion(seg == 1)
        if necrotic.sum() > 20 and (seg == 3).any():
            seen_necrosis += 1
            assert _median(case, "t1c", necrotic) < 0.8 * t1c_wm  # necrosis dark on T1C
            assert _median(case, "t1c", necrotic) < _median(case, "t1c", seg == 3)
        oedema = ndimage.binary_erosion(seg == 2)
        if oedema.sum() > 20:
            seen_oedema += 1
            flair_gm = _median(case, "t2f", case.tissue == Tissue.GREY_MATTER)
            assert _median(case, "t2f", oedema) > 1.1 * flair_gm  # oedema bright on FLAIR
            assert _median(case, "t2f", oedema) > 1.2 * _median(case, "t2f", wm)
    assert seen_enhancing >= 4 and seen_necrosis >= 1 and seen_oedema >= 3


def test_meningiomas_extra_axial_others_intra_axial(cases_2mm: list[SynthCase]) -> None:
    kinds = set()
    for case in cases_2mm:
        core = (case.seg == 1) | (case.seg == 3)
        outside = case.tissue == Tissue.BACKGROUND
        touches = bool(np.any(ndimage.binary_dilation(core) & outside))
        kinds.add(case.plan.diagnosis)
        # One core per planned lesion (a meningioma is one piece, metastases stay apart).
        assert core_components(case.seg)[1] == len(case.lesions), case.plan.case_id
        if case.plan.diagnosis == "meningioma":
            assert touches, case.plan.case_id  # on the dura, at the edge of the brain
            # The brain is pushed, not invaded: no oedema inside the tumour's core.
            assert not np.any(core & (case.seg == 2))
        else:
            ring = ndimage.binary_dilation(core, iterations=2)
            assert not np.any(ring & outside), case.plan.case_id  # inside the brain
    assert kinds == {"glioma", "meningioma", "metastasis"}


def test_oedema_follows_the_white_matter_and_spares_the_cortex(
    cases_2mm: list[SynthCase],
) -> None:
    seen = 0
    for case in cases_2mm:
        oedema = case.seg == 2
        if not oedema.any():
            continue
        seen += 1
        before = label_volume(case.head, case.pose, case.grid, case.lesions)
        under = before[oedema]
        assert np.all(np.isin(under, OEDEMA_BED)), case.plan.case_id
        assert np.mean(under == Tissue.WHITE_MATTER) > 0.6
        # The cortex next to the oedema is still cortex.
        assert np.any(ndimage.binary_dilation(oedema) & (case.tissue == Tissue.GREY_MATTER))
    assert seen >= 3


def test_metastases_sit_at_the_grey_white_junction(cases_2mm: list[SynthCase]) -> None:
    seen = 0
    for case in cases_2mm:
        if case.plan.diagnosis != "metastasis":
            continue
        components, count = core_components(case.seg)
        assert count >= 1
        for label in range(1, count + 1):
            lesion = components == label
            radius_vox = (3 * lesion.sum() / (4 * np.pi)) ** (1 / 3)
            around = ndimage.binary_dilation(lesion, iterations=int(radius_vox) + 3) & ~lesion
            near = case.tissue[around]
            assert np.any(near == Tissue.GREY_MATTER), case.plan.case_id
            assert np.any(np.isin(near, (Tissue.WHITE_MATTER, Tissue.OEDEMA))), case.plan.case_id
            seen += 1
    assert seen >= 2
