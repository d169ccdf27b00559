"""Generator B's corpus folder: files, tables and truth consistent with the labels."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dicom_conversion import read_brats_case
from models.synth_b import SynthBError, write_corpus
from tests.unit.models.synth_b.conftest import CASES, RESOLUTION_MM, SEED

TRUTH_FIELDS = {
    "case_id", "diagnosis", "patient_id", "timepoint", "follow_up_of", "hard", "lesion_count",
    "volume_ml", "centroid_mm", "hemisphere", "lobe", "extra_axial", "enhancement", "necrosis",
    "oedema_ratio", "age", "sex",
}  # fmt: skip
HARD_KINDS = {
    None, "solitary_large_metastasis", "non_enhancing_glioma", "small_glioma",
    "meningioma_with_oedema", "cystic_meningioma",
}  # fmt: skip


def _truth(corpus_dir: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((corpus_dir / "truth.json").read_text())
    return data


def test_tables_list_every_case(corpus_dir: Path) -> None:
    with (corpus_dir / "cases.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["case_id", "diagnosis", "patient_id", "age", "sex"]
    assert len(rows) == CASES + 1
    truth = _truth(corpus_dir)
    assert truth["generator"] == "b"
    assert truth["seed"] == SEED
    assert truth["resolution_mm"] == RESOLUTION_MM
    records = truth["cases"]
    assert isinstance(records, list)
    for row, record in zip(rows[1:], records, strict=True):
        assert TRUTH_FIELDS <= set(record)
        assert row == [
            record["case_id"], record["diagnosis"], record["patient_id"], str(record["age"]),
            record["sex"],
        ]  # fmt: skip
        assert re.fullmatch(rf"SYB-{SEED}-\d{{5}}", record["case_id"])
        assert re.fullmatch(rf"PB-{SEED}-\d{{5}}", record["patient_id"])
        assert record["diagnosis"] in {"glioma", "meningioma", "metastasis"}
        assert record["sex"] in {"F", "M"}
        assert record["hemisphere"] in {"left", "right", "midline"}
        assert record["enhancement"] in {"ring", "solid", "none"}
        assert record["hard"] in HARD_KINDS
        assert record["extra_axial"] == (record["diagnosis"] == "meningioma")
        assert set(record["volume_ml"]) == {
            "necrotic", "oedema", "enhancing", "tumour_core", "whole_tumour",
        }  # fmt: skip
    assert {r["diagnosis"] for r in records} == {"glioma", "meningioma", "metastasis"}


def test_files_read_back_with_labels_matching_the_truth(corpus_dir: Path) -> None:
    records = _truth(corpus_dir)["cases"]
    assert isinstance(records, list)
    voxel_ml = RESOLUTION_MM**3 / 1000.0
    for record in records:
        case_dir = corpus_dir / record["case_id"]
        names = sorted(p.name for p in case_dir.iterdir())
        assert names == sorted(
            f"{record['case_id']}-{s}.nii.gz" for s in ("t1n", "t1c", "t2w", "t2f", "seg")
        )
        study = read_brats_case(case_dir)
        seg_image = nib.load(case_dir / f"{record['case_id']}-seg.nii.gz")
        seg = np.asarray(seg_image.dataobj)
        assert seg.dtype == np.uint8
        assert study.mask is not None
        assert np.array_equal(study.mask, seg)
        assert seg.shape == (60, 60, 39)
        affine = seg_image.affine
        assert np.allclose(np.diag(affine)[:3], RESOLUTION_MM)
        assert nib.aff2axcodes(affine) == ("R", "A", "S")
        t1 = nib.load(case_dir / f"{record['case_id']}-t1n.nii.gz")
        assert t1.get_data_dtype() == np.int16
        assert set(np.unique(seg)) <= {0, 1, 2, 3}
        counts = np.bincount(seg.ravel(), minlength=4) * voxel_ml
        volume = record["volume_ml"]
        assert volume["necrotic"] == pytest.approx(counts[1], abs=1e-3)
        assert volume["oedema"] == pytest.approx(counts[2], abs=1e-3)
        assert volume["enhancing"] == pytest.approx(counts[3], abs=1e-3)
        assert volume["tumour_core"] == pytest.approx(counts[1] + counts[3], abs=1e-3)
        assert volume["whole_tumour"] == pytest.approx(counts[1:].sum(), abs=1e-3)
        assert volume["tumour_core"] > 0
        assert record["lesion_count"] >= 1
        core = np.argwhere((seg == 1) | (seg == 3))
        centroid = affine[:3, :3] @ core.mean(axis=0) + affine[:3, 3]
        assert np.allclose(record["centroid_mm"], centroid, atol=0.05)
        if record["enhancement"] != "none" and record["diagnosis"] != "meningioma":
            assert volume["enhancing"] > 0


def test_follow_up_is_the_same_patient_grown_or_shrunk(corpus_dir: Path) -> None:
    records = {r["case_id"]: r for r in _truth(corpus_dir)["cases"]}  # type: ignore[union-attr]
    follow_ups = [r for r in records.values() if r["follow_up_of"]]
    assert follow_ups, "seed 11 has a follow-up among its first ten cases"
    for record in follow_ups:
        first = records[record["follow_up_of"]]
        assert record["timepoint"] == 2 and first["timepoint"] == 1
        assert record["patient_id"] == first["patient_id"]
        assert record["diagnosis"] == first["diagnosis"]
        assert record["lesion_count"] == first["lesion_count"]
        ratio = record["volume_ml"]["tumour_core"] / first["volume_ml"]["tumour_core"]
        assert 0.5 < ratio < 1.8


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SynthBError, match="cases"):
        write_corpus(tmp_path, cases=0, seed=1)
    with pytest.raises(SynthBError, match="resolution_mm"):
        write_corpus(tmp_path, cases=1, seed=1, resolution_mm=0.0)
