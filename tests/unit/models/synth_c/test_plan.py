"""Who the cases are: balanced diagnoses, follow-ups, hard variants (no image needed)."""

from __future__ import annotations

from collections import Counter

from models.synth_c.plan import DIAGNOSES, HARD_KINDS, plan_case

SEED, N = 6101, 600


def test_diagnoses_are_balanced_in_every_block_of_three() -> None:
    plans = [plan_case(SEED, i, 0.15) for i in range(N)]
    for start in range(0, N, 3):
        assert {p.diagnosis for p in plans[start : start + 3]} == set(DIAGNOSES)


def test_follow_ups_are_about_ten_percent_of_the_same_patient() -> None:
    plans = [plan_case(SEED, i, 0.15) for i in range(N)]
    follow_ups = [p for p in plans if p.timepoint > 1]
    assert 0.05 < len(follow_ups) / N < 0.15
    for plan in follow_ups:
        first = plans[plan.base_index]
        assert plan.base_index < plan.index
        assert first.timepoint == 1 and first.follow_up_of is None
        assert plan.follow_up_of == first.case_id
        assert plan.patient_id == first.patient_id
        assert plan.diagnosis == first.diagnosis and plan.hard == first.hard
        assert 0.7 <= plan.volume_scale <= 1.3 and plan.volume_scale != 1.0
    assert all(p.timepoint >= 2 for p in follow_ups) and any(p.timepoint == 2 for p in follow_ups)
    new_patients = [p for p in plans if p.timepoint == 1]
    assert len({p.patient_id for p in new_patients}) == len(new_patients)


def test_hard_variants_follow_the_rate_and_the_diagnosis() -> None:
    plans = [plan_case(SEED, i, 0.15) for i in range(N)]
    firsts = [p for p in plans if p.timepoint == 1]
    hard = [p for p in firsts if p.hard is not None]
    assert 0.09 < len(hard) / len(firsts) < 0.21
    for plan in hard:
        assert plan.hard in HARD_KINDS[plan.diagnosis]
    kinds = Counter(p.hard for p in hard)
    assert set(kinds) == {k for ks in HARD_KINDS.values() for k in ks}
    assert not any(plan_case(SEED, i, 0.0).hard for i in range(60))
    assert all(plan_case(SEED, i, 1.0).hard for i in range(60))


def test_a_case_does_not_depend_on_the_corpus_size() -> None:
    assert plan_case(SEED, 250, 0.15) == plan_case(SEED, 250, 0.15)
    assert plan_case(SEED, 5, 0.15).case_id == "SYC-6101-00005"
    assert plan_case(SEED + 1, 5, 0.15) != plan_case(SEED, 5, 0.15)
