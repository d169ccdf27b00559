"""Case plans: ids, follow-ups, hard cases, type filters; a function of (seed, index) only."""

from __future__ import annotations

from collections import Counter

import pytest

from models.synth import DIAGNOSES, SynthesisError, plan_case

N = 400


def test_ids_follow_the_agreed_format() -> None:
    plan = plan_case(7, 12)
    assert plan.case_id == "SYN-7-00012"
    assert plan.patient_id.startswith("SP-7-")
    assert plan.sex in {"F", "M"}
    assert 18 <= plan.age <= 91
    assert plan.diagnosis in DIAGNOSES


def test_plans_depend_on_seed_and_index_only() -> None:
    assert plan_case(3, 40) == plan_case(3, 40)
    assert [plan_case(3, i).diagnosis for i in range(30)] != [
        plan_case(4, i).diagnosis for i in range(30)
    ]


def test_rates_of_follow_ups_and_hard_cases() -> None:
    plans = [plan_case(0, i) for i in range(N)]
    follow_ups = [p for p in plans if p.timepoint > 1]
    hard = [p for p in plans if p.hard is not None]
    assert 0.05 * N <= len(follow_ups) <= 0.16 * N
    assert 0.09 * N <= len(hard) <= 0.22 * N
    assert {p.hard for p in hard} >= {"non_enhancing_glioma", "solitary_large_metastasis"}
    counts = Counter(p.diagnosis for p in plans)
    assert min(counts.values()) > N / 5


def test_a_follow_up_is_the_same_patient_and_tumour_type() -> None:
    plans = [plan_case(0, i) for i in range(N)]
    follow_ups = [p for p in plans if p.timepoint > 1]
    assert follow_ups
    for p in follow_ups:
        first = plans[p.patient_index]
        assert first.timepoint == 1
        assert p.index > first.index
        assert p.follow_up_of == first.case_id
        assert (p.patient_id, p.diagnosis, p.sex, p.hard) == (
            first.patient_id,
            first.diagnosis,
            first.sex,
            first.hard,
        )
        assert p.age - first.age in (0, 1)
    firsts = [p for p in plans if p.timepoint == 1]
    assert len({p.patient_id for p in firsts}) == len(firsts)


def test_types_restrict_the_diagnoses() -> None:
    plans = [plan_case(1, i, ["meningioma", "glioma"]) for i in range(60)]
    assert {p.diagnosis for p in plans} == {"glioma", "meningioma"}


@pytest.mark.parametrize("types", [["lymphoma"], [], ["glioma", "x"]])
def test_unknown_types_are_refused(types: list[str]) -> None:
    with pytest.raises(SynthesisError, match="tumour type"):
        plan_case(0, 0, types)


def test_negative_seed_is_refused() -> None:
    with pytest.raises(SynthesisError, match="seed"):
        plan_case(-1, 0)


def test_a_higher_hard_rate_changes_only_which_patients_are_hard() -> None:
    natural = [plan_case(5, i) for i in range(N)]
    enriched = [plan_case(5, i, None, 0.6) for i in range(N)]
    assert [p.hard for p in natural] == [plan_case(5, i, None, 0.15).hard for i in range(N)]
    hard = [p for p in enriched if p.hard is not None]
    assert 0.5 * N <= len(hard) <= 0.7 * N
    assert {p.hard for p in hard} == {
        "non_enhancing_glioma",
        "small_glioma",
        "meningioma_with_oedema",
        "solitary_large_metastasis",
    }
    # Same patients, diagnoses and follow-ups; every naturally hard patient stays hard.
    for a, b in zip(natural, enriched, strict=True):
        assert (a.patient_id, a.diagnosis, a.timepoint, a.age, a.sex) == (
            b.patient_id,
            b.diagnosis,
            b.timepoint,
            b.age,
            b.sex,
        )
        assert a.hard is None or b.hard is not None
    assert all(plan_case(5, i, None, 0.0).hard is None for i in range(60))


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_hard_rate_outside_zero_to_one_is_refused(rate: float) -> None:
    with pytest.raises(SynthesisError, match="hard_rate"):
        plan_case(0, 0, None, rate)
