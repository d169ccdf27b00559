"""Generator B shows the signs of spec sections 2 and 3."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from models.synth_b import SyntheticCase
from models.synth_b.lesion_specs import sample_lesions
from models.synth_b.plan import DIAGNOSES, plan_case

CSF, GM, WM = 1, 2, 3


def _mean(image: npt.NDArray[np.int16], where: npt.NDArray[np.bool_]) -> float:
    return float(image[where].astype(np.float64).mean())


def _normal_means(case: SyntheticCase, sequence: str) -> dict[int, float]:
    assert case.tissue is not None
    healthy = case.seg == 0
    return {t: _mean(case.images[sequence], (case.tissue == t) & healthy) for t in (CSF, GM, WM)}


def test_normal_tissue_orderings(cases_in_memory: list[SyntheticCase]) -> None:
    ratios: dict[str, list[tuple[float, float]]] = {"t1n": [], "t2w": [], "t2f": []}
    for case in cases_in_memory:
        for sequence in ratios:
            m = _normal_means(case, sequence)
            ratios[sequence].append((m[GM] / m[WM], m[CSF] / m[WM]))
    t1 = np.mean(ratios["t1n"], axis=0)
    t2 = np.mean(ratios["t2w"], axis=0)
    flair = np.mean(ratios["t2f"], axis=0)
    assert 1.0 > t1[0] > t1[1]  # T1: WM > GM > CSF
    assert 1.0 < t2[0] < t2[1]  # T2: CSF > GM > WM
    assert flair[0] > 1.0 > flair[1]  # FLAIR: GM > WM > CSF
    assert all(gm < 1.0 for gm, _ in ratios["t1n"])
    assert all(csf > gm for gm, csf in ratios["t2w"])


def test_lesion_signs(cases_in_memory: list[SyntheticCase]) -> None:
    oedema_flair = []
    for case in cases_in_memory:
        assert case.tissue is not None
        wm = (case.tissue == WM) & (case.seg == 0)
        if (case.seg == 2).any():
            flair = case.images["t2f"]
            oedema_flair.append(_mean(flair, case.seg == 2) / _mean(flair, wm))
        if (case.seg == 3).sum() >= 3:
            post = _mean(case.images["t1c"], case.seg == 3) / _mean(case.images["t1c"], wm)
            pre = _mean(case.images["t1n"], case.seg == 3) / _mean(case.images["t1n"], wm)
            assert post > pre + 0.1, case.plan.case_id  # label 3 enhances
    assert np.mean(oedema_flair) > 1.2


def test_meningioma_is_extra_axial_at_the_brain_surface(
    cases_in_memory: list[SyntheticCase],
) -> None:
    meningiomas = [c for c in cases_in_memory if c.plan.diagnosis == "meningioma"]
    assert meningiomas
    for case in meningiomas:
        assert case.truth["extra_axial"] is True
        assert case.tissue is not None
        core = (case.seg == 1) | (case.seg == 3)
        outside = (case.tissue == 0) & (case.seg == 0) & (case.images["t2w"] == 0)
        near = ndimage.binary_dilation(core, iterations=2)
        assert (near & outside).any() or (near & (case.images["t2w"] < 50)).any()


def test_glioma_rings_hold_their_necrosis(cases_in_memory: list[SyntheticCase]) -> None:
    rings = [
        c for c in cases_in_memory
        if c.plan.diagnosis == "glioma" and c.truth["enhancement"] == "ring"
    ]  # fmt: skip
    assert rings
    for case in rings:
        necrotic = case.seg == 1
        assert necrotic.any()
        enclosed = np.ones_like(necrotic)
        for axis in range(3):
            for shift in (1, -1):
                neighbour = np.roll(case.seg, shift, axis=axis)
                enclosed &= (neighbour == 1) | (neighbour == 3)
        assert enclosed[necrotic].mean() > 0.7, case.plan.case_id


def test_metastases_are_more_numerous_than_gliomas() -> None:
    counts: dict[str, list[int]] = {d: [] for d in DIAGNOSES}
    for patient in range(300):
        plan = plan_case(5, patient)
        rng = np.random.default_rng(patient)
        counts[plan.diagnosis].append(len(sample_lesions(rng, plan.diagnosis, plan.hard)))
    assert np.mean(counts["metastasis"]) > 1.5 > np.mean(counts["glioma"])
    assert np.mean([c > 1 for c in counts["metastasis"]]) > 0.3
    assert max(counts["meningioma"]) == 1


def test_plans_are_balanced_with_hard_variants_and_follow_ups() -> None:
    plans = [plan_case(3, i) for i in range(1500)]
    shares = [sum(p.diagnosis == d for p in plans) / len(plans) for d in DIAGNOSES]
    assert all(0.3 < s < 0.37 for s in shares)
    assert 0.1 < np.mean([p.hard is not None for p in plans]) < 0.2
    assert 0.07 < np.mean([p.timepoint == 2 for p in plans]) < 0.13
    baselines = [p.follow_up_of for p in plans if p.follow_up_of]
    assert len(baselines) == len(set(baselines))
    by_id = {p.case_id: p for p in plans}
    for plan in plans:
        if plan.follow_up_of:
            first = by_id[plan.follow_up_of]
            assert first.index < plan.index and first.timepoint == 1
            assert (first.patient_id, first.diagnosis) == (plan.patient_id, plan.diagnosis)
