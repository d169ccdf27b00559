"""Every result object simcase writes passes dciodvfy (dicom3tools) without errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydicom import Dataset

from plugin.results import build_results
from tests.unit.plugin.result_samples import (
    hits_for,
    images_for,
    outline_for,
    query_for,
    results_for,
)
from tests.unit.plugin.samples import mr_series

pytestmark = [
    pytest.mark.integration,
]


def dciodvfy_errors(ds: Dataset, folder: Path) -> list[str]:
    assert shutil.which("dciodvfy"), "dciodvfy is missing: apt-get install dicom3tools"
    path = folder / f"{ds.SOPInstanceUID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line]


@pytest.mark.parametrize("per_diagnosis", [False, True])
def test_montage_and_report_are_valid(tmp_path: Path, per_diagnosis: bool) -> None:
    source = mr_series(3)
    hits = hits_for(5)
    objs = build_results(
        query_for(source),
        hits,
        per_diagnosis={"glioma": hits[:2], "meningioma": hits[2:3]} if per_diagnosis else None,
        source_datasets=source,
        model_version="emb-test-1",
        query_image=np.random.default_rng(0).random((64, 64)),
        hit_images=images_for(hits),
        supersedes="1.2.826.0.1.3680043.8.498.7" if per_diagnosis else None,
    )
    assert len(objs) == 2
    for ds in objs:
        assert dciodvfy_errors(ds, tmp_path) == [], ds.SOPClassUID.name


@pytest.mark.parametrize(
    "overrides", [{"tumour_found": False}, {"is_brain_mr": False, "reason": "CT study"}]
)
def test_short_reports_are_valid(tmp_path: Path, overrides: dict[str, object]) -> None:
    source = mr_series(1)
    objs = build_results(
        query_for(source, **overrides),
        [],
        per_diagnosis=None,
        source_datasets=source,
        model_version="emb-test-1",
        query_image=None,
        hit_images={},
        supersedes=None,
    )
    assert len(objs) == 1
    assert dciodvfy_errors(objs[0], tmp_path) == []


@pytest.mark.parametrize("mask_source", ["segmenter", "given"])
def test_seg_and_measurement_report_are_valid(tmp_path: Path, mask_source: str) -> None:
    source = mr_series(6)
    objs = results_for(
        source,
        hits_for(3),
        np.random.default_rng(0).random((64, 64)),
        outline=outline_for(source, mask_source=mask_source),
    )
    assert [str(ds.Modality) for ds in objs] == ["OT", "SEG", "SR", "SR", "SR"]
    for ds in objs:
        assert dciodvfy_errors(ds, tmp_path) == [], ds.SOPClassUID.name


def test_similar_case_tid1500_report_is_valid_for_every_diagnosis(tmp_path: Path) -> None:
    """The machine-readable similar-case list (overall and per-diagnosis groups, SNOMED
    CT diagnoses and a private one) is dciodvfy-clean; a missing dciodvfy fails here."""
    source = mr_series(5)
    hits = hits_for(4)
    other = hits[3].__class__(rank=4, case_id="X-1", diagnosis="lymphoma", similarity=0.4)
    objs = results_for(
        source,
        [*hits[:3], other],
        np.random.default_rng(0).random((64, 64)),
        per_diagnosis={"glioma": hits[:1], "meningioma": hits[1:2], "metastasis": hits[2:3]},
        outline=outline_for(source),
    )
    similar = objs[3]
    assert str(similar.SeriesDescription).startswith("simcase similar-case list TID 1500")
    assert dciodvfy_errors(similar, tmp_path) == []
