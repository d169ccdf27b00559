"""``simcase synth --generator b``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from plugin.cli import app


def test_generator_b_writes_a_corpus(tmp_path: Path) -> None:
    out = tmp_path / "b"
    args = ["synth", "--generator", "b", "--out", str(out), "--cases", "1", "--resolution", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "generator b" in result.output
    assert json.loads((out / "truth.json").read_text())["generator"] == "b"
    assert (out / "SYB-0-00000" / "SYB-0-00000-t2f.nii.gz").is_file()


def test_options_only_a_has_are_refused(tmp_path: Path) -> None:
    args = ["synth", "--generator", "b", "--out", str(tmp_path), "--dicom", str(tmp_path / "d")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "--dicom is not supported by --generator b" in result.output
    result = CliRunner().invoke(app, ["synth", "--generator", "z", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "--generator must be a, b or c" in result.output
