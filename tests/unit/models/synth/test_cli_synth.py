"""``simcase synth`` end to end at a coarse resolution."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from plugin.cli import app

runner = CliRunner()


def test_synth_writes_a_corpus(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(out),
            "--cases",
            "2",
            "--seed",
            "3",
            "--resolution",
            "4",
            "--types",
            "meningioma",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 cases" in result.output
    rows = list(csv.DictReader((out / "cases.csv").open()))
    assert [r["diagnosis"] for r in rows] == ["meningioma", "meningioma"]
    assert (out / "SYN-3-00001" / "SYN-3-00001-t2f.nii.gz").is_file()


def test_synth_refuses_an_unknown_type(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--out", str(tmp_path), "--types", "lymphoma"])
    assert result.exit_code == 1
    assert "lymphoma" in result.output
