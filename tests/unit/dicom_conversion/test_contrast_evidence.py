"""Contrast attributes outrank description keywords; the images settle T1 vs T1C when
the words could fool the header decision (header_evidence, contrast_pairing)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dicom_conversion import (
    MRSequence,
    SequenceDecision,
    StudyInfo,
    contrast_attributes,
    recognise_series,
    write_mr_series,
)
from dicom_conversion.contrast_pairing import decide_contrast_by_images
from tests.unit.dicom_conversion.multiframe import enhanced_mr, legacy_converted

STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.1515")
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def series(sequence: MRSequence, description: str, **attributes: object) -> list:  # type: ignore[type-arg]
    volume = np.random.default_rng(1).random((32, 32, 4)).astype(np.float32) * 900
    return write_mr_series(
        volume,
        AFFINE,
        sequence=sequence,
        study=STUDY,
        series_number=len(description),
        series_description=description,
        attributes=attributes,
    )


def test_the_agent_outranks_a_description_that_says_pre() -> None:
    decision = recognise_series(series(MRSequence.T1C, "T1 SE pre")[0])
    assert decision.sequence is MRSequence.T1C
    assert decision.contrast_rule == "attributes"
    assert decision.contrast_by_attributes is True
    assert decision.contrast_by_description is False
    assert decision.contrast_conflict
    assert "outranking the description" in decision.reason
    evidence = dict(decision.evidence)
    assert evidence["ContrastBolusAgent"] == "Gadobutrol 0.1 mmol/kg"
    assert evidence["EchoTime"] == "2.98 ms"
    assert evidence["InversionTime"] == "900 ms"


def test_the_ingredient_alone_is_attribute_evidence() -> None:
    ds = series(MRSequence.T1, "T1 SE pre", ContrastBolusIngredient="GADOLINIUM")[0]
    assert contrast_attributes(ds) == (True, (("ContrastBolusIngredient", "GADOLINIUM"),))
    assert recognise_series(ds).sequence is MRSequence.T1C


def test_a_none_agent_is_silence_and_the_description_speaks() -> None:
    decision = recognise_series(
        series(MRSequence.T1, "T1 SE post Gd", ContrastBolusAgent="NONE")[0]
    )
    assert decision.contrast_by_attributes is None
    assert decision.contrast_rule == "description"
    assert decision.sequence is MRSequence.T1C


@pytest.mark.parametrize("administered", [True, False])
def test_enhanced_mr_contrast_usage_outranks_the_description(administered: bool) -> None:
    description = "T1 SE pre" if administered else "T1 SE post Gd"
    ds = enhanced_mr(series(MRSequence.T1, description), 31, administered=administered)
    assert "ContrastBolusAgent" not in ds and "EchoTime" not in ds
    decision = recognise_series(ds)
    assert decision.sequence is (MRSequence.T1C if administered else MRSequence.T1)
    assert decision.contrast_rule == "attributes"
    assert decision.contrast_conflict
    evidence = dict(decision.evidence)
    answer = "YES" if administered else "NO"
    assert evidence["ContrastBolusUsageSequence"] == f"agent 1 administered {answer}"
    assert evidence["ContrastBolusAgentSequence"] == "Gadolinium"
    assert evidence["EchoTime"] == "2.98 ms"
    assert evidence["RepetitionTime"] == "2300 ms"
    assert "inversion-prepared with short TE and TI" in decision.reason


@pytest.mark.parametrize(
    ("sequence", "description"),
    [(MRSequence.T2, "ax 2"), (MRSequence.FLAIR, "ax 3"), (MRSequence.T1, "ax 1")],
)
def test_multi_frame_timing_is_read_from_the_functional_groups(
    sequence: MRSequence, description: str
) -> None:
    single = series(sequence, description)
    for ds in (legacy_converted(single, 41), enhanced_mr(single, 42, administered=None)):
        decision = recognise_series(ds)
        assert decision.sequence is sequence, decision.reason
        assert decision.source == "attributes"


def phantom(enhanced: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 2 mm ball of 'white matter' under a 'grey matter' shell, optionally enhancing."""
    grid = np.indices((48, 48, 48), dtype=np.float32) - 23.5
    radius = np.sqrt((grid**2).sum(axis=0)) * 2.0
    image = np.where(radius < 44, 600.0, 0.0) + np.where(radius < 38, 300.0, 0.0)
    rng = np.random.default_rng(seed)
    if enhanced:
        image[(rng.random(image.shape) < 0.01) & (radius < 44) & (radius > 30)] = 2200.0
    image += rng.normal(0.0, 15.0, image.shape) * (image > 0)
    return image.astype(np.float32), AFFINE


def t1_decision(
    uid: str, sequence: MRSequence, by_attr: bool | None, by_desc: bool | None
) -> SequenceDecision:
    post = by_attr if by_attr is not None else by_desc
    return SequenceDecision(
        series_instance_uid=uid,
        sequence=sequence,
        reason="header",
        source="attributes+description",
        contrast_evidence=post is not None,
        contrast_by_attributes=by_attr,
        contrast_by_description=by_desc,
        contrast_rule="attributes"
        if by_attr is not None
        else "description"
        if by_desc is not None
        else "",
    )


def test_two_t1c_claims_are_settled_by_the_images() -> None:
    canonical = {"pre": phantom(False, 1), "post": phantom(True, 2)}
    decisions = {
        # The real post-contrast series: agent present, described as pre.
        "post": t1_decision("post", MRSequence.T1C, True, False),
        # The native series described as post, no agent: a words-only claim.
        "pre": t1_decision("pre", MRSequence.T1C, None, True),
    }
    out = decide_contrast_by_images(decisions, canonical)
    assert out["post"].sequence is MRSequence.T1C
    assert out["pre"].sequence is MRSequence.T1
    assert {d.contrast_rule for d in out.values()} == {"images"}
    assert out["post"].enhancement_percent > out["pre"].enhancement_percent  # type: ignore[operator]
    assert "contrast attributes and description disagree" in out["pre"].reason
    assert "-> pre-contrast" in out["pre"].reason


def test_swapped_descriptions_without_any_agent_are_settled_by_the_images() -> None:
    canonical = {"pre": phantom(False, 1), "post": phantom(True, 2)}
    decisions = {
        "post": t1_decision("post", MRSequence.T1, None, False),
        "pre": t1_decision("pre", MRSequence.T1C, None, True),
    }
    out = decide_contrast_by_images(decisions, canonical)
    assert (out["post"].sequence, out["pre"].sequence) == (MRSequence.T1C, MRSequence.T1)
    assert "no contrast attributes, descriptions only" in out["post"].reason


def test_consistent_attribute_evidence_stands_without_asking_the_images() -> None:
    canonical = {"pre": phantom(False, 1), "post": phantom(True, 2)}
    decisions = {
        "post": t1_decision("post", MRSequence.T1C, True, True),
        "pre": t1_decision("pre", MRSequence.T1, None, False),
    }
    out = decide_contrast_by_images(decisions, canonical)
    assert (out["post"].sequence, out["pre"].sequence) == (MRSequence.T1C, MRSequence.T1)
    assert {d.contrast_rule for d in out.values()} == {"attributes", "description"}
    assert out == decisions  # the images were not asked, nothing was computed


def test_two_attribute_backed_post_series_are_not_split() -> None:
    canonical = {"a": phantom(False, 1), "b": phantom(True, 2)}
    decisions = {
        "a": t1_decision("a", MRSequence.T1C, True, True),
        "b": t1_decision("b", MRSequence.T1C, True, False),
    }
    out = decide_contrast_by_images(decisions, canonical)
    assert {d.sequence for d in out.values()} == {MRSequence.T1C}
    assert {d.contrast_rule for d in out.values()} == {"attributes"}


def test_images_that_do_not_separate_keep_the_header_decision() -> None:
    canonical = {"a": phantom(False, 1), "b": phantom(False, 2)}
    decisions = {
        "a": t1_decision("a", MRSequence.T1C, True, False),
        "b": t1_decision("b", MRSequence.T1, None, False),
    }
    out = decide_contrast_by_images(decisions, canonical)
    assert out["a"].sequence is MRSequence.T1C and out["b"].sequence is MRSequence.T1
    assert "do not separate pre from post" in out["a"].reason
    assert dataclasses.replace(out["a"], reason="", evidence=(), enhancement_percent=None) == (
        dataclasses.replace(decisions["a"], reason="")
    )
