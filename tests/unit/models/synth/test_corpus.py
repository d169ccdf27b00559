"""write_corpus: BraTS layout, cases.csv / truth.json consistency, byte-identical reruns."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dicom_conversion import MRSequence, read_brats_case
from models.corpus import folder_digest
from models.errors import TrainingDataError
from models.synth import CASES_CSV, TRUTH_JSON, SynthesisError, generate_case, write_corpus

RES = 4.0
SUFFIXES = ("t1n", "t1c", "t2w", "t2f", "seg")


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(out, 4, 11, resolution_mm=RES, preview=out.parent / "preview.png")
    return out


def test_brats_layout_and_nifti_headers(corpus: Path) -> None:
    case_dirs = sorted(p for p in corpus.iterdir() if p.is_dir())
    assert [p.name for p in case_dirs] == [f"SYN-11-{i:05d}" for i in range(4)]
    for case_dir in case_dirs:
        for suffix in SUFFIXES:
            image = nib.load(case_dir / f"{case_dir.name}-{suffix}.nii.gz")
            assert image.shape == (60, 60, 39)
            assert nib.aff2axcodes(image.affine) == ("R", "A", "S")
            assert np.allclose(np.diag(image.affine)[:3], RES)
            expected = np.uint8 if suffix == "seg" else np.int16
            assert image.get_data_dtype() == expected


def test_files_match_generate_case(corpus: Path) -> None:
    study = read_brats_case(corpus / "SYN-11-00002")
    case = generate_case(11, 2, resolution_mm=RES)
    assert np.allclose(study.affine, case.study.affine)
    assert np.array_equal(study.mask, case.study.mask)
    for sequence in MRSequence.ordered():
        assert np.array_equal(study.arrays[sequence], case.study.arrays[sequence])


def test_cases_csv_and_truth_json_agree(corpus: Path) -> None:
    with (corpus / CASES_CSV).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["case_id", "diagnosis", "patient_id", "age", "sex"]
    truth = json.loads((corpus / TRUTH_JSON).read_text())
    assert truth["seed"] == 11 and truth["resolution_mm"] == RES
    facts = truth["cases"]
    assert [r["case_id"] for r in rows] == [f["case_id"] for f in facts]
    for row, fact in zip(rows, facts, strict=True):
        assert row["diagnosis"] == fact["diagnosis"]
        assert row["patient_id"] == fact["patient_id"]
        assert int(row["age"]) == fact["age"] and row["sex"] == fact["sex"]
        seg = nib.load(corpus / row["case_id"] / f"{row['case_id']}-seg.nii.gz")
        labels = np.asarray(seg.dataobj)
        voxel_ml = RES**3 / 1000.0
        volumes = fact["volume_ml"]
        assert volumes["oedema"] == pytest.approx((labels == 2).sum() * voxel_ml, abs=1e-3)
        assert volumes["enhancing"] == pytest.approx((labels == 3).sum() * voxel_ml, abs=1e-3)
        assert volumes["necrotic"] == pytest.approx((labels == 1).sum() * voxel_ml, abs=1e-3)
        assert fact["lesion_count"] == len(fact["components"]) >= 1
        assert fact["hemisphere"] in {"left", "right", "midline"}
        assert isinstance(fact["lobe"], str)
        assert len(fact["centroid_mm"]) == 3


def test_preview_png_is_written(corpus: Path) -> None:
    png = corpus.parent / "preview.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reruns_are_byte_identical_and_prefix_stable(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    write_corpus(again, 3, 11, resolution_mm=RES, workers=2)
    first = digests(corpus)
    second = digests(again)
    shared = [k for k in second if k not in (CASES_CSV, TRUTH_JSON)]
    assert len(shared) == 3 * len(SUFFIXES)
    assert all(first[k] == second[k] for k in shared)
    lines = (corpus / CASES_CSV).read_text().splitlines()
    assert (again / CASES_CSV).read_text().splitlines() == lines[:4]


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SynthesisError, match="n_cases"):
        write_corpus(tmp_path, 0, 1)
    with pytest.raises(SynthesisError, match="tumour type"):
        write_corpus(tmp_path, 1, 1, types=["lymphoma"])
    with pytest.raises(SynthesisError, match="resolution"):
        write_corpus(tmp_path, 1, 1, resolution_mm=0.1)
    with pytest.raises(SynthesisError, match="hard_rate"):
        write_corpus(tmp_path, 1, 1, hard_rate=2.0)


def test_folder_digest_pins_the_content_not_the_place(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "elsewhere"
    write_corpus(again, 4, 11, resolution_mm=RES, workers=2)
    assert folder_digest(again) == folder_digest(corpus)
    seg = again / "SYN-11-00002" / "SYN-11-00002-seg.nii.gz"
    content = bytearray(seg.read_bytes())
    content[-1] ^= 1
    seg.write_bytes(bytes(content))
    assert folder_digest(again) != folder_digest(corpus)
    shutil.rmtree(again / "SYN-11-00003")
    with pytest.raises(TrainingDataError, match="SYN-11-00003"):
        folder_digest(again)
