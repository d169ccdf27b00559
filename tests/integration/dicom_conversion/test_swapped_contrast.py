"""Sequences that words cannot fool: a study whose T1 and T1C descriptions are swapped.

The T1C series (enhancing vessels, the contrast attributes) is described as "T1 SE pre"
and the native T1 series as "T1 SE post Gd". On MNI152 anatomy (nilearn) the study is
written as single-frame series, as Legacy Converted Enhanced MR and as Enhanced MR
(timing and contrast usage in functional groups), uncompressed and with RLE Lossless or
JPEG 2000 Lossless transfer syntaxes. In every form the enhancing series must end up as
T1C, the model input (``StudyVolumes.stacked()``) must equal that of the correctly
described study, and the decision and its evidence must show in ``simcase convert
--json`` and in the Comprehensive SR the worker writes (read back, checked by dciodvfy).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.uid import JPEG2000Lossless, RLELossless
from typer.testing import CliRunner

from dicom_conversion import MRSequence, StudyInfo, load_study, write_mr_series
from plugin.cli import app
from plugin.processing.answer import _query_facts
from plugin.results import build_results
from plugin.results.codes import SEQUENCE_DECISION
from tests.unit.dicom_conversion.multiframe import enhanced_mr, legacy_converted
from tests.unit.dicom_conversion.test_convert_command import json_document
from tests.unit.dicom_conversion.test_image_recognition import synthesize
from tests.unit.dicom_conversion.test_image_recognition import (
    tissues as tissues,  # the MNI152 fixture
)
from tests.unit.plugin.result_samples import hits_for, images_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Tissues = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.1515001", patient_name="Doe^J")
PRE, POST = "T1 SE pre", "T1 SE post Gd"
FORMS = [
    ("single", None),
    ("single", RLELossless),
    ("single", JPEG2000Lossless),
    ("legacy", None),
    ("legacy", JPEG2000Lossless),
    ("enhanced", None),
    ("enhanced", RLELossless),
]


def _series(
    tissues: Tissues, sequence: MRSequence, number: int, description: str, agent: bool
) -> list[Dataset]:
    volume = synthesize(tissues, sequence, seed=number, enhancement=sequence is MRSequence.T1C)
    attributes = {} if agent or sequence is not MRSequence.T1C else {"ContrastBolusAgent": None}
    return write_mr_series(
        volume,
        tissues[3],
        sequence=sequence,
        study=STUDY,
        series_number=number,
        series_description=description,
        attributes=attributes,
    )


def write_study(
    tissues: Tissues, form: str, syntax: str | None, *, swapped: bool, agent: bool = True
) -> tuple[list[Dataset], dict[MRSequence, str]]:
    """The study's instances and the SeriesInstanceUID of each true sequence."""
    described = {MRSequence.T1: POST if swapped else PRE, MRSequence.T1C: PRE if swapped else POST}
    out: list[Dataset] = []
    uids: dict[MRSequence, str] = {}
    for number, sequence in enumerate(MRSequence.ordered(), start=1):
        description = described.get(sequence, sequence.value)
        series = _series(tissues, sequence, number, description, agent)
        if form == "legacy":
            series = [legacy_converted(series, number)]
        elif form == "enhanced":
            contrast = sequence is MRSequence.T1C if agent else None
            administered = contrast if sequence in (MRSequence.T1, MRSequence.T1C) else None
            series = [enhanced_mr(series, number, administered=administered)]
        if syntax is not None:
            for ds in series:
                ds.compress(syntax)
        uids[sequence] = str(series[0].SeriesInstanceUID)
        out += series
    return out, uids


@pytest.mark.parametrize(("form", "syntax"), FORMS)
def test_swapped_descriptions_do_not_swap_t1_and_t1c(
    tissues: Tissues, form: str, syntax: str | None
) -> None:
    honest = load_study(write_study(tissues, form, syntax, swapped=False)[0])
    datasets, uids = write_study(tissues, form, syntax, swapped=True)
    if syntax is not None:
        assert {str(ds.file_meta.TransferSyntaxUID) for ds in datasets} == {syntax}
    swapped = load_study(datasets)
    decisions = {d.series_instance_uid: d for d in swapped.decisions}
    post, pre = decisions[uids[MRSequence.T1C]], decisions[uids[MRSequence.T1]]
    assert (post.sequence, pre.sequence) == (MRSequence.T1C, MRSequence.T1), post.reason
    assert post.selected and pre.selected
    assert post.description.startswith(PRE) and pre.description.startswith(POST)
    # Attributes outrank the words, and where they disagree the images decided.
    assert post.contrast_by_attributes is True and post.contrast_by_description is False
    assert post.contrast_rule == pre.contrast_rule == "images"
    assert post.enhancement_percent > 3 * pre.enhancement_percent  # type: ignore[operator]
    # The model input is that of the honestly described study, and the swap matters.
    assert swapped.missing == []
    np.testing.assert_array_equal(swapped.stacked(), honest.stacked())
    t1, t1c = swapped.arrays[MRSequence.T1], swapped.arrays[MRSequence.T1C]
    assert float((t1c > 1500).mean()) > 10 * float((t1 > 1500).mean())


@pytest.mark.parametrize("form", ["single", "legacy"])
def test_swapped_descriptions_without_contrast_attributes_are_settled_by_the_images(
    tissues: Tissues, form: str
) -> None:
    datasets, uids = write_study(tissues, form, None, swapped=True, agent=False)
    assert not any(ds.get("ContrastBolusAgent") for ds in datasets)
    decisions = {d.series_instance_uid: d for d in load_study(datasets).decisions}
    post, pre = decisions[uids[MRSequence.T1C]], decisions[uids[MRSequence.T1]]
    assert (post.sequence, pre.sequence) == (MRSequence.T1C, MRSequence.T1)
    assert "no contrast attributes, descriptions only" in post.reason
    assert post.contrast_rule == "images"


def _save(datasets: list[Dataset], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for ds in datasets:
        ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    return folder


@pytest.mark.parametrize(("form", "syntax"), [("single", RLELossless), ("enhanced", None)])
def test_convert_json_shows_the_decision_and_its_evidence(
    tissues: Tissues, tmp_path: Path, form: str, syntax: str | None
) -> None:
    datasets, uids = write_study(tissues, form, syntax, swapped=True)
    folder = _save(datasets, tmp_path / "study")
    result = CliRunner().invoke(
        app, ["convert", str(folder), "--out", str(tmp_path / "out"), "--json"]
    )
    assert result.exit_code == 0, result.output
    series = {
        s["series_instance_uid"]: s for s in json.loads(json_document(result.stdout))["series"]
    }
    post, pre = series[uids[MRSequence.T1C]], series[uids[MRSequence.T1]]
    assert (post["sequence"], pre["sequence"]) == ("T1C", "T1")
    assert post["contrast"]["rule"] == "images"
    assert post["contrast"]["attributes"] is True and post["contrast"]["description"] is False
    assert post["contrast"]["enhancement_percent"] > pre["contrast"]["enhancement_percent"]
    agent = "ContrastBolusAgent" if form == "single" else "ContrastBolusUsageSequence"
    assert agent in post["evidence"] and "post-contrast enhancement" in post["evidence"]
    assert post["evidence"]["EchoTime"] == "2.98 ms"
    assert "image-based pre/post pair" in post["reason"]


def _texts(item: Dataset, name: str) -> list[str]:
    found = []
    for child in item.get("ContentSequence", []):
        if child.ValueType == "TEXT" and child.ConceptNameCodeSequence[0].CodeValue == name:
            found.append(str(child.TextValue))
        found += _texts(child, name)
    return found


def dciodvfy_errors(path: Path) -> list[str]:
    assert shutil.which("dciodvfy"), "dciodvfy is missing: apt-get install dicom3tools"
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line]


@pytest.mark.parametrize("form", ["single", "legacy"])
def test_the_report_names_each_series_used_and_why(
    tissues: Tissues, tmp_path: Path, form: str
) -> None:
    datasets, uids = write_study(tissues, form, None, swapped=True)
    study = load_study(datasets)
    facts = {"volume_ml": 12.0, "hemisphere": "left", "lobe": "frontal", "lesion_count": 1}
    query = _query_facts(STUDY.study_instance_uid, study, facts, 40, "segmenter")
    hits = hits_for(3)
    objects = build_results(
        query,
        hits,
        source_datasets=datasets,
        model_version="emb-test-1",
        query_image=np.random.default_rng(0).random((64, 64)),
        hit_images=images_for(hits),
        per_diagnosis=None,
        supersedes=None,
    )
    report = next(ds for ds in objects if ds.Modality == "SR")
    path = tmp_path / "report.dcm"
    report.save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path) == []
    read = hd.sr.ComprehensiveSR.from_dataset(dcmread(path))
    lines = _texts(read, SEQUENCE_DECISION.value)
    assert len(lines) == 4, lines
    t1c = next(line for line in lines if line.startswith("T1C <- "))
    t1 = next(line for line in lines if line.startswith("T1 <- "))
    assert uids[MRSequence.T1C] in t1c and uids[MRSequence.T1] in t1
    assert f"'{PRE}" in t1c and "contrast by images" in t1c
    assert "attributes post-contrast, description native" in t1c
    assert "ContrastBolusAgent Gadobutrol" in t1c and "post-contrast enhancement" in t1c
    assert "Doe" not in " ".join(lines)
