"""The atheris harness stays alive: a short run of it (a fixed number of inputs from a
fixed seed, without instrumentation so it starts in seconds) finds nothing, and its
check reads the seed instance all the way to a volume. The long run is described in
docs/reliability.md (section 26)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.instance_check import check_instance, seed_instances

ROOT = Path(__file__).parents[2]
RUNS = 300


def test_the_seed_instance_is_read_to_a_volume(tmp_path: Path) -> None:
    assert check_instance(seed_instances()[0], tmp_path / "x.dcm") == "loaded"
    assert check_instance(b"not DICOM", tmp_path / "x.dcm") == "unreadable"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_short_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    corpus, artifacts = tmp_path / "corpus", tmp_path / "artifacts"
    artifacts.mkdir()
    env = os.environ | {"SIMCASE_FUZZ_NO_INSTRUMENT": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "tests.fuzz.instance_reading",
            f"-atheris_runs={RUNS}",
            "-seed=15",
            "-rss_limit_mb=2048",
            "-max_len=8192",
            f"-artifact_prefix={artifacts}/",
            str(corpus),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Done {RUNS} " in done.stderr, done.stderr[-3000:]
    assert list(artifacts.iterdir()) == []
    seed = (corpus / "seed-mr.dcm").read_bytes()  # its own UIDs: a valid MR instance
    assert check_instance(seed, tmp_path / "seed.dcm") == "loaded"
