"""Sequence recognition on real-world series descriptions and attributes of four vendors."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom import Dataset

from dicom_conversion import DescriptionRule, MRSequence, RecognitionRules, recognise_series

T1, T1C, T2, FLAIR, OTHER = (
    MRSequence.T1,
    MRSequence.T1C,
    MRSequence.T2,
    MRSequence.FLAIR,
    MRSequence.OTHER,
)
MPRAGE = {
    "EchoTime": 2.98,
    "RepetitionTime": 2300,
    "InversionTime": 900,
    "ScanningSequence": ["GR", "IR"],
    "SequenceVariant": ["SK", "SP", "MP"],
}
TSE_T2 = {"EchoTime": 100, "RepetitionTime": 5000, "ScanningSequence": "SE"}
FLAIR_IR = {
    "EchoTime": 85,
    "RepetitionTime": 9000,
    "InversionTime": 2500,
    "ScanningSequence": ["SE", "IR"],
}
SE_T1 = {"EchoTime": 10, "RepetitionTime": 500, "ScanningSequence": "SE"}
DERIVED = {"ImageType": ["DERIVED", "SECONDARY", "MPR"]}

# (vendor, SeriesDescription, attributes, expected sequence)
TABLE: list[tuple[str, str, dict[str, Any], MRSequence]] = [
    # Siemens
    ("Siemens", "t1_mprage_sag_p2_iso", MPRAGE, T1),
    ("Siemens", "t1_mprage_sag_p2_iso_KM", {**MPRAGE, "ContrastBolusAgent": ""}, T1C),
    ("Siemens", "t1_mprage_tra_p2_iso_post", MPRAGE, T1C),
    ("Siemens", "t2_tse_tra_512", TSE_T2, T2),
    ("Siemens", "t2_tirm_tra_dark-fluid", FLAIR_IR, FLAIR),
    (
        "Siemens",
        "t2_spc_da-fl_sag_p2_iso",
        {"EchoTime": 386, "RepetitionTime": 5000, "InversionTime": 1800},
        FLAIR,
    ),
    (
        "Siemens",
        "ep2d_diff_3scan_trace_p2",
        {"EchoTime": 89, "RepetitionTime": 4800, "ScanningSequence": "EP"},
        OTHER,
    ),
    (
        "Siemens",
        "ep2d_diff_3scan_trace_p2_ADC",
        {"ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]},
        OTHER,
    ),
    ("Siemens", "localizer", {"EchoTime": 4, "RepetitionTime": 8.6}, OTHER),
    ("Siemens", "AAHead_Scout_32ch-head-coil", {"EchoTime": 1.4, "RepetitionTime": 3}, OTHER),
    ("Siemens", "t1_se_tra", SE_T1, T1),
    ("Siemens", "t1_se_tra_KM", SE_T1, T1C),
    ("Siemens", "t1_mprage_sag_p2_iso_MPR_tra", {**MPRAGE, **DERIVED}, T1),
    ("Siemens", "t2_swi3d1r_tra", {"EchoTime": 20, "RepetitionTime": 27}, OTHER),
    ("Siemens", "t1_vibe_fs_tra_post", {"EchoTime": 2.4, "RepetitionTime": 5.5}, T1C),
    ("Siemens", "t2_blade_tra", TSE_T2, T2),
    # GE
    ("GE", "Ax T1 FSE +C", {**SE_T1, "ContrastBolusAgent": "MULTIHANCE"}, T1C),
    (
        "GE",
        "Sag T1 FLAIR",
        {
            "EchoTime": 24,
            "RepetitionTime": 2100,
            "InversionTime": 860,
            "ScanningSequence": ["SE", "IR"],
        },
        T1,
    ),
    ("GE", "AX T2 FSE", {"EchoTime": 102, "RepetitionTime": 6000}, T2),
    ("GE", "AX FLAIR", {"EchoTime": 140, "RepetitionTime": 9000, "InversionTime": 2250}, FLAIR),
    (
        "GE",
        "Ax DWI 1000b",
        {"EchoTime": 80, "RepetitionTime": 6000, "ScanningSequence": "EP", "DiffusionBValue": 1000},
        OTHER,
    ),
    ("GE", "3-Plane Loc", {"EchoTime": 1.6, "RepetitionTime": 5}, OTHER),
    (
        "GE",
        "Ax 3D BRAVO +C",
        {
            "EchoTime": 3.2,
            "RepetitionTime": 8.2,
            "InversionTime": 450,
            "ContrastBolusAgent": "MULTIHANCE",
        },
        T1C,
    ),
    (
        "GE",
        "Sag CUBE FLAIR",
        {"EchoTime": 130, "RepetitionTime": 6000, "InversionTime": 1800},
        FLAIR,
    ),
    ("GE", "AX T2* GRE", {"EchoTime": 15, "RepetitionTime": 650}, OTHER),
    ("GE", "Ax SWAN", {"EchoTime": 25, "RepetitionTime": 40}, OTHER),
    ("GE", "ASSET Cal", {}, OTHER),
    ("GE", "Ax T1 pre", SE_T1, T1),
    ("GE", "AX T2 FRFSE", {"EchoTime": 90, "RepetitionTime": 4000}, T2),
    # Philips
    ("Philips", "T1W_3D_TFE +Gd", {"EchoTime": 3.7, "RepetitionTime": 8.1}, T1C),
    ("Philips", "T2W_TSE", {"EchoTime": 80, "RepetitionTime": 3000}, T2),
    (
        "Philips",
        "T2W_FLAIR",
        {"EchoTime": 125, "RepetitionTime": 11000, "InversionTime": 2800},
        FLAIR,
    ),
    ("Philips", "sT1W_3D_TFE", {"EchoTime": 3.5, "RepetitionTime": 7.6}, T1),
    ("Philips", "DWI_SENSE", {"EchoTime": 70, "RepetitionTime": 3000}, OTHER),
    ("Philips", "Survey_SHC", {"EchoTime": 2.3, "RepetitionTime": 5}, OTHER),
    ("Philips", "T1W_SE_CLEAR", {"EchoTime": 15, "RepetitionTime": 450}, T1),
    (
        "Philips",
        "3D_Brain_VIEW_FLAIR_SHC",
        {"EchoTime": 340, "RepetitionTime": 4800, "InversionTime": 1650},
        FLAIR,
    ),
    ("Philips", "T2W_FFE", {"EchoTime": 16, "RepetitionTime": 700}, OTHER),
    ("Philips", "T1W_3D_TFE_ce", {"EchoTime": 3.7, "RepetitionTime": 8.1}, T1C),
    ("Philips", "WIP T1W_3D_TFE MPR tra", {"EchoTime": 3.7, "RepetitionTime": 8.1, **DERIVED}, T1),
    # Canon (Toshiba)
    ("Canon", "FLAIR_AX", {"EchoTime": 100, "RepetitionTime": 10000, "InversionTime": 2600}, FLAIR),
    ("Canon", "T2_AX", {"EchoTime": 100, "RepetitionTime": 4500}, T2),
    ("Canon", "T1_AX", {"EchoTime": 10, "RepetitionTime": 500}, T1),
    (
        "Canon",
        "T1_AX_GD",
        {"EchoTime": 10, "RepetitionTime": 500, "ContrastBolusAgent": "GADOVIST"},
        T1C,
    ),
    ("Canon", "3D_MPRAGE+C", {"EchoTime": 3.0, "RepetitionTime": 2000, "InversionTime": 1000}, T1C),
    ("Canon", "DWI_AX", {"EchoTime": 90, "RepetitionTime": 5000}, OTHER),
    ("Canon", "Locator", {"EchoTime": 3, "RepetitionTime": 6}, OTHER),
    ("Canon", "PD_AX", {"EchoTime": 15, "RepetitionTime": 3000}, OTHER),
    # Attributes only, or contrast from the attribute
    ("any", "", {"EchoTime": 90, "RepetitionTime": 4000}, T2),
    ("any", "", {"EchoTime": 110, "RepetitionTime": 8000, "InversionTime": 2400}, FLAIR),
    ("any", "", {**SE_T1, "ContrastBolusAgent": "Dotarem"}, T1C),
    ("any", "T1 +C", {**SE_T1, "ContrastBolusAgent": "NONE"}, T1C),
    ("any", "AX FLAIR +C", {**FLAIR_IR, "ContrastBolusAgent": "Dotarem"}, FLAIR),
    ("any", "Ax T1 SE", {**SE_T1, "ContrastBolusAgent": "Dotarem"}, T1C),
]


def header(description: str, attributes: dict[str, Any]) -> Dataset:
    ds = Dataset()
    ds.Modality = "MR"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.99"
    if description:
        ds.SeriesDescription = description
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def test_the_table_is_large_enough() -> None:
    assert len(TABLE) >= 40
    assert {row[0] for row in TABLE} >= {"Siemens", "GE", "Philips", "Canon"}


@pytest.mark.parametrize(
    ("vendor", "description", "attributes", "expected"),
    TABLE,
    ids=[f"{row[0]}:{row[1] or 'no description'}" for row in TABLE],
)
def test_recognition_table(
    vendor: str, description: str, attributes: dict[str, Any], expected: MRSequence
) -> None:
    decision = recognise_series(header(description, attributes))
    assert decision.sequence is expected, decision.reason
    assert decision.reason
    assert not decision.needs_image
    if "MPR" in attributes.get("ImageType", []):
        assert decision.derived


def test_disagreement_is_left_to_the_image() -> None:
    decision = recognise_series(header("T2 AX", SE_T1))
    assert decision.needs_image
    assert "disagree" in decision.reason


def test_silence_is_left_to_the_image() -> None:
    decision = recognise_series(header("", {}))
    assert decision.needs_image and decision.sequence is OTHER
    assert decision.source == "undecided"


def test_site_rules_extend_the_table() -> None:
    rules = RecognitionRules.from_config(
        {"description_rules": [{"pattern": r"\bseq a7\b", "kind": "weighting", "sequence": "T2"}]}
    )
    assert recognise_series(header("SEQ_A7", {}), rules).sequence is T2
    assert recognise_series(header("SEQ_A7", {})).needs_image


def test_a_bad_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="weighting"):
        DescriptionRule(r"x", "weighting", MRSequence.T1C)
    with pytest.raises(ValueError, match="kind"):
        DescriptionRule(r"x", "colour")


def test_other_modalities_are_other() -> None:
    ds = header("t1_mprage", MPRAGE)
    ds.Modality = "CT"
    assert recognise_series(ds).sequence is OTHER
