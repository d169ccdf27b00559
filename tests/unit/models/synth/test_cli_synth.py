"""``simcase synth`` end to end at a coarse resolution."""

from __future__ import annotations

import csv
import json
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


def test_synth_hard_rate_one_makes_every_case_a_hard_variant(tmp_path: Path) -> None:
    out = tmp_path / "hard"
    result = runner.invoke(
        app,
        [*"synth --cases 3 --seed 3 --resolution 4 --hard-rate 1 --out".split(), str(out)],
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["hard_rate"] == 1.0
    assert all(case["hard"] for case in truth["cases"])


def test_synth_option_defaults_are_the_library_defaults() -> None:
    # The CLI imports models.synth lazily (start-up), so it writes the defaults out.
    from typer.core import TyperGroup
    from typer.main import get_command

    from models.synth.contrast import DEFAULT_CONTRAST_JITTER
    from models.synth.plan import HARD_CASE_RATE
    from plugin.cli.synth import A_DEFAULT_CONTRAST_JITTER

    group = get_command(app)
    assert isinstance(group, TyperGroup)
    command = group.commands["synth"]
    defaults = {p.name: p.default for p in command.params}
    # None: generator A's default, which B does not take.
    assert defaults["contrast_jitter"] is None
    assert A_DEFAULT_CONTRAST_JITTER == DEFAULT_CONTRAST_JITTER
    assert defaults["hard_rate"] == HARD_CASE_RATE
