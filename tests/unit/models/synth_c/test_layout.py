"""Spec section 5: the files, their names, grids and values, read by models.corpus."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nibabel as nib
import numpy as np

from models.corpus import iter_studies, read_cases_csv
from models.synth_c import CorpusSummary

from .conftest import CORPUS_CASES, SEED

SPEC_FIELDS = {
    "case_id", "diagnosis", "patient_id", "timepoint", "follow_up_of", "hard", "lesion_count",
    "volume_ml", "centroid_mm", "hemisphere", "lobe", "extra_axial", "enhancement", "necrosis",
    "oedema_ratio",
}  # fmt: skip
VOLUME_FIELDS = {"necrotic", "oedema", "enhancing", "tumour_core", "whole_tumour"}


def test_corpus_reads_with_models_corpus(corpus_dir: Path) -> None:
    records = read_cases_csv(corpus_dir)
    assert len(records) == CORPUS_CASES
    studies = list(iter_studies(corpus_dir, records))
    for record, study in studies:
        assert len(study.arrays) == 4
        assert study.mask is not None
        assert set(np.unique(study.mask)) <= {0, 1, 2, 3}
        assert study.mask.any(), record.case_id
        assert study.affine[0, 0] > 0 and study.affine[1, 1] > 0 and study.affine[2, 2] > 0


def test_cases_csv_and_ids(corpus_dir: Path) -> None:
    with (corpus_dir / "cases.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["case_id", "diagnosis", "patient_id", "age", "sex"]
        rows = list(reader)
    assert [row["case_id"] for row in rows] == [f"SYC-{SEED}-{i:05d}" for i in range(CORPUS_CASES)]
    for row in rows:
        assert re.fullmatch(rf"PC-{SEED}-\d{{5}}", row["patient_id"])
        assert row["sex"] in {"F", "M"}
        assert 18 <= int(row["age"]) <= 90
    diagnoses = [row["diagnosis"] for row in rows]
    assert {d: diagnoses.count(d) for d in set(diagnoses)} == {
        "glioma": 3, "meningioma": 3, "metastasis": 3
    }  # fmt: skip


def test_truth_json_has_every_spec_field(corpus_dir: Path, corpus_4mm: CorpusSummary) -> None:
    truth = json.loads((corpus_dir / "truth.json").read_text())
    assert truth["generator"] == "c"
    assert truth["seed"] == SEED
    assert truth["resolution_mm"] == 4.0
    assert [case["case_id"] for case in truth["cases"]] == corpus_4mm.case_ids
    for case in truth["cases"]:
        assert SPEC_FIELDS <= set(case), SPEC_FIELDS - set(case)
        assert set(case["volume_ml"]) == VOLUME_FIELDS
        assert case["hemisphere"] in {"left", "right", "midline"}
        assert case["enhancement"] in {"ring", "solid", "none"}
        assert case["extra_axial"] == (case["diagnosis"] == "meningioma")
        assert len(case["centroid_mm"]) == 3


def test_images_are_int16_on_a_ras_grid_with_zero_background(corpus_dir: Path) -> None:
    case_id = f"SYC-{SEED}-00000"
    folder = corpus_dir / case_id
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{case_id}-{s}.nii.gz" for s in ("t1n", "t1c", "t2w", "t2f", "seg"))
    seg = nib.load(folder / f"{case_id}-seg.nii.gz")
    assert seg.get_data_dtype() == np.uint8
    for sequence in ("t1n", "t1c", "t2w", "t2f"):
        image = nib.load(folder / f"{case_id}-{sequence}.nii.gz")
        assert image.get_data_dtype() == np.int16
        assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
        assert np.allclose(np.diag(image.affine)[:3], 4.0)
        extent = np.array(image.shape) * 4.0
        assert np.allclose(extent, (240, 240, 156), atol=4.0)
        data = np.asarray(image.dataobj)
        corners = data[:5, :5, :].ravel()
        assert np.all(corners == 0)  # outside the head
        assert data.max() > 200
        brain = data > 0
        assert 0.05 < brain.mean() < 0.45  # the brain is inside the field of view
        assert not brain[0].any() and not brain[-1].any() and not brain[:, 0].any()
