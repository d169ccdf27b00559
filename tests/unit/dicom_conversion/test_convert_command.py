"""``simcase convert``: a DICOM study folder to a BraTS case, with decisions as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from dicom_conversion import (
    MRSequence,
    StudyInfo,
    read_brats_case,
    save_series,
    write_mr_series,
    write_seg,
)
from plugin.cli import app
from tests.unit.dicom_conversion.helpers import canonical_case

runner = CliRunner()
STUDY = StudyInfo(study_instance_uid="1.2.826.0.1.3680043.8.498.10", patient_name="Doe^Jane")


def json_document(stdout: str) -> str:
    """The JSON document printed by --json.

    plugin.logging_setup's RichHandler writes log records to stdout (rich's default
    console) in this version; reported to the lead. Skip those lines.
    """
    lines = stdout.splitlines()
    return "\n".join(lines[lines.index("{") :])


def make_study(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    volume, affine = canonical_case(shape=(12, 14, 8))
    t1c = write_mr_series(
        volume,
        affine,
        sequence=MRSequence.T1C,
        study=STUDY,
        series_number=5,
        series_description="Ax T1 FSE +C",
    )
    flair = write_mr_series(
        volume + 5,
        affine,
        sequence=MRSequence.FLAIR,
        study=STUDY,
        series_number=6,
        series_description="AX FLAIR",
        orientation="sagittal",
    )
    localizer = write_mr_series(
        volume[:, :, :1],
        affine,
        sequence=MRSequence.OTHER,
        study=STUDY,
        series_number=1,
        series_description="3-Plane Loc",
    )
    save_series(t1c, folder / "a" / "b")
    for index, path in enumerate(save_series(flair, folder / "c")):
        path.rename(path.with_name(f"{index}"))
    save_series(localizer, folder / "loc")
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[3:6, 3:7, 2:5] = 2
    mask[4, 4, 3] = 3
    write_seg(mask, affine, t1c).save_as(folder / "seg.dcm", enforce_file_format=True)
    (folder / "notes.txt").write_text("not DICOM")
    return volume, mask


def test_convert_writes_a_brats_case_and_explains_itself(tmp_path: Path) -> None:
    volume, mask = make_study(tmp_path / "in")
    result = runner.invoke(
        app,
        [
            "convert",
            str(tmp_path / "in"),
            "--out",
            str(tmp_path / "out"),
            "--json",
            "--case-id",
            "CASE-7",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(json_document(result.stdout))
    assert summary["case_id"] == "CASE-7"
    assert summary["sequences"] == ["T1C", "FLAIR"]
    assert summary["missing"] == ["T1", "T2"]
    assert summary["mask"] is True
    by_description = {s["description"]: s for s in summary["series"]}
    assert by_description["3-Plane Loc"]["sequence"] == "OTHER"
    assert by_description["Ax T1 FSE +C"]["selected"] is True
    assert "ContrastBolusAgent" in by_description["Ax T1 FSE +C"]["reason"]
    assert summary["skipped_files"] == [str(tmp_path / "in" / "notes.txt")]
    assert "Doe" not in result.output
    case = read_brats_case(tmp_path / "out" / "CASE-7")
    assert np.array_equal(case.arrays[MRSequence.T1C], volume)
    assert np.array_equal(case.arrays[MRSequence.FLAIR], volume + 5)
    assert case.mask is not None and np.array_equal(case.mask, mask)


def test_convert_default_case_id_and_text_output(tmp_path: Path) -> None:
    make_study(tmp_path / "in")
    result = runner.invoke(app, ["convert", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / STUDY.study_instance_uid).is_dir()
    assert "missing: T1, T2" in result.output


def test_convert_fails_with_one_line_when_nothing_is_usable(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("hello")
    result = runner.invoke(app, ["convert", str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "No DICOM files" in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("simcase:")]
    assert len(lines) == 1
