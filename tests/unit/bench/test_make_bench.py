"""``make bench`` lists the benchmarks and only them: the rows of bench/README.md's
table, not the helper ``bench/isolation.py``, which cannot be run as one either."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def make_bench(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        pytest.fail("GNU make is needed to check the Makefile's bench target")
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def listed(output: str) -> list[str]:
    match = re.search(r"name one of: (.*)$", output, re.MULTILINE)
    assert match is not None, output
    return match.group(1).split()


def documented() -> set[str]:
    readme = (REPO / "bench" / "README.md").read_text()
    return set(re.findall(r"^\| `(\w+)` \|", readme, re.MULTILINE))


def test_make_bench_lists_the_benchmarks_of_the_readme_and_not_the_helper() -> None:
    done = make_bench()
    assert done.returncode == 2
    names = listed(done.stdout)
    assert "isolation" not in names
    assert set(names) == documented()
    assert {"e2e_latency", "concurrent_load", "receive"} <= set(names)
    assert sorted(names) == names and len(set(names)) == len(names)


@pytest.mark.parametrize("bench", ["isolation", "no_such_bench", "search isolation"])
def test_make_bench_refuses_what_is_not_one_benchmark(bench: str) -> None:
    done = make_bench(f"BENCH={bench}")
    assert done.returncode == 2
    assert done.stdout.startswith("usage: make bench BENCH=<name>")
    assert "isolation" not in listed(done.stdout)
