"""``simcase index`` on a ``cases.csv`` with malformed lines or no case (issue 15, bad
input): the well-formed cases are indexed, then the command exits 1 naming the file
and the lines; a header without cases is an error stating 0 cases. Real processes, a
real PostgreSQL and synthetic cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.synth import write_corpus
from tests.helpers.model_dirs import untrained_model_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _index(folder: Path, database_url: str, model_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
    env |= {"SIMCASE_DATABASE_URL": database_url, "SIMCASE_MODEL_DIR": str(model_dir)}
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", "index", str(folder), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_malformed_lines_are_named_and_the_other_cases_indexed(
    tmp_path: Path, database_url: str
) -> None:
    archive = tmp_path / "archive"
    write_corpus(archive, 2, seed=11, resolution_mm=3.0, workers=1)
    model_dir = untrained_model_dir(tmp_path / "models", seed=1)
    listing = archive / "cases.csv"
    lines = listing.read_text().splitlines()
    width = len(lines[0].split(","))
    lines += ["short-row", ",glioma" + "," * (width - 2), "," * (width - 1)]
    listing.write_text("\n".join(lines) + "\n")

    done = _index(archive, database_url, model_dir)

    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["indexed"] == 2
    assert summary["malformed_lines"] == [4, 5]  # the line of blank cells is ignored
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"simcase: {listing}: 2 malformed line(s) (4, 5); their cases were not indexed"
        " (the others were): fix them and run again"
    )
    assert "Traceback" not in done.stderr
    reasons = {s["reason"] for s in summary["skipped"]}
    assert reasons == {
        f"cases.csv line 4: 1 cells, the header has {width}",
        "cases.csv line 5: no case_id",
    }

    listing.write_text(lines[0] + "\n")  # the header alone
    empty = _index(archive, database_url, model_dir)
    assert empty.returncode == 1
    assert empty.stderr.strip() == f"simcase: {listing} lists 0 cases (a header and no case line)"
