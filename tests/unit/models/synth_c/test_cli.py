"""``simcase synth --generator c``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plugin.cli import app

runner = CliRunner()


def test_synth_generator_c_writes_a_corpus(tmp_path: Path) -> None:
    out = tmp_path / "c"
    result = runner.invoke(
        app,
        ["synth", "--generator", "c", "--out", str(out), "--cases", "2", "--seed", "9",
         "--resolution", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 cases (generator c)" in result.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["generator"] == "c" and truth["resolution_mm"] == 4.0
    assert [c["case_id"] for c in truth["cases"]] == ["SYC-9-00000", "SYC-9-00001"]
    assert (out / "SYC-9-00001" / "SYC-9-00001-seg.nii.gz").is_file()


def test_synth_generator_c_refuses_options_only_a_has(tmp_path: Path) -> None:
    refused = (
        ["--dicom", str(tmp_path / "d")],
        ["--types", "glioma"],
        ["--contrast-jitter", "0.1"],
        ["--preview", str(tmp_path / "p.png")],
    )
    for extra in refused:
        result = runner.invoke(
            app, ["synth", "--generator", "c", "--out", str(tmp_path / "x"), "--cases", "1", *extra]
        )
        assert result.exit_code != 0
        assert "not supported by --generator c" in result.output
    assert not (tmp_path / "x").exists()


def test_synth_rejects_an_unknown_generator(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["synth", "--generator", "d", "--out", str(tmp_path / "x"), "--cases", "1"]
    )
    assert result.exit_code != 0
    assert "a, b or c" in result.output
