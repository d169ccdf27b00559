"""Malformed uploads to ``POST /api/v1/search`` and malformed ``simcase index`` folders,
at scale (:mod:`tests.integration.plugin.malformed_uploads`: over 200 inputs).

Counted, by kind: the HTTP statuses of the uploads; the CLI's exit codes and what it
did with each listed case (indexed, failed, skipped). None may be a crash (a 5xx, an
uncaught exception, an exit code other than 0 or 1), a hang (over ``HANG_SECONDS`` for
one input), a raw traceback or a server path in what the user reads (the HTTP body,
the CLI's stdout and stderr, the failure reasons), or a file written outside the data
folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plugin.cli import app as cli
from plugin.settings import ApiSettings
from tests.integration.plugin.malformed_uploads import (
    malformed_uploads,
    write_malformed_archive,
    write_malformed_folders,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

MiB = 1024 * 1024
HANG_SECONDS = 20.0
SEARCH = "search-token-0123456789abcdef"
#: What a user-facing message must never hold: a traceback, the server's source or
#: packages, its temporary folder.
LEAKS = ("Traceback", 'File "', "site-packages", str(Path(__file__).parents[3]), "/tmp/")


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _leaks(text: str, allowed: str = "") -> list[str]:
    """The :data:`LEAKS` in ``text``, but for the ``allowed`` folder (the user's own);
    whitespace is ignored (the CLI's log wraps long lines)."""
    cleaned = "".join(text.split())
    if allowed:
        cleaned = cleaned.replace("".join(allowed.split()), "<given>")
    return [leak for leak in LEAKS if "".join(leak.split()) in cleaned]


def test_malformed_uploads_are_answered_4xx_without_leaks(
    open_api: Callable[..., TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = malformed_uploads()
    assert len(uploads) >= 150
    temp = tmp_path / "server-tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    api = ApiSettings(
        admin_token="a" * 32,
        search_token=SEARCH,
        max_upload_bytes=4 * MiB,
        max_uncompressed_bytes=16 * MiB,
    )
    client = open_api(api, raise_server_exceptions=False)
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/search"]["post"]
    before = _files(tmp_path)
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    slowest = 0.0
    for upload in uploads:
        started = time.monotonic()
        response = client.post(
            "/api/v1/search",
            files=[("files", (name, data)) for name, data in upload.files],
            headers={"Authorization": f"Bearer {SEARCH}"},
        )
        elapsed = time.monotonic() - started
        slowest = max(slowest, elapsed)
        outcomes[str(response.status_code)] += 1
        if response.status_code >= 500 or str(response.status_code) not in documented["responses"]:
            problems.append(f"{upload.name}: {response.status_code} {response.text[:200]}")
        if leaks := _leaks(response.text.replace(str(temp), "/tmp/")):
            problems.append(f"{upload.name}: leaks {leaks}: {response.text[:300]}")
        if elapsed > HANG_SECONDS:
            problems.append(f"{upload.name}: {elapsed:.1f} s")
    print(f"\n{len(uploads)} uploads: {dict(sorted(outcomes.items()))}, slowest {slowest:.1f} s")
    assert problems == [], "\n".join(problems)
    assert list(temp.iterdir()) == []  # every upload's temporary folder removed
    assert _files(tmp_path) == before  # nothing written anywhere else
    assert client.get("/health").status_code == 200


def _cli_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
    return env | {"SIMCASE_DATABASE_URL": database_url, "SIMCASE_DATA_DIR": str(data_dir)}


def test_a_folder_of_broken_cases_is_indexed_without_a_crash(
    database_url: str, tmp_path: Path
) -> None:
    root, outside, data = tmp_path / "archive", tmp_path / "outside", tmp_path / "data"
    listed = write_malformed_archive(root, outside)
    before_outside, before_root = _files(outside), _files(root)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "plugin.cli", "index", str(root), "--json"],
        env=_cli_env(database_url, data),
        capture_output=True,
        text=True,
        timeout=HANG_SECONDS * 4,
    )
    elapsed = time.monotonic() - started
    assert done.returncode in (0, 1), done.stderr[-2000:]
    summary = json.loads(done.stdout)
    outcomes = Counter(
        ["indexed"] * summary["indexed"]
        + [f"failed {f['reason'].split(':')[0]}" for f in summary["failed"]]
        + ["skipped"] * len(summary["skipped"])
    )
    print(f"\n{len(listed)} listed cases in {elapsed:.1f} s: {dict(sorted(outcomes.items()))}")
    reasons = [f["reason"] for f in summary["failed"]] + [s["reason"] for s in summary["skipped"]]
    problems = [r for r in reasons if _leaks(r, str(root))]
    if leaks := _leaks(done.stderr, str(root)):
        problems.append(f"stderr leaks {leaks}: {done.stderr[-1000:]}")
    assert problems == [], "\n".join(problems)
    assert summary["indexed"] == 0, summary  # every listed case is broken or outside
    assert sum(outcomes.values()) >= len(listed) - 2  # the blank-id rows are one "skipped"
    assert _files(outside) == before_outside and _files(root) == before_root
    assert not (tmp_path / "etc").exists()


def test_folders_with_a_broken_cases_csv_are_clean_error_exits(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folders = write_malformed_folders(tmp_path, outside)
    for key, value in _cli_env(database_url, tmp_path / "data").items():
        if key.startswith("SIMCASE_"):
            monkeypatch.setenv(key, value)
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    for name, folder in folders.items():
        started = time.monotonic()
        result = CliRunner().invoke(cli, ["index", str(folder), "--json"])
        elapsed = time.monotonic() - started
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        outcomes["crash" if crashed else f"exit {result.exit_code}"] += 1
        if crashed or result.exit_code not in (0, 1):
            problems.append(f"{name}: {result.exception!r}")
        text = result.stdout + result.stderr
        if leaks := _leaks(text, str(folder)):
            problems.append(f"{name}: leaks {leaks}: {text[-300:]}")
        if elapsed > HANG_SECONDS:
            problems.append(f"{name}: {elapsed:.1f} s")
    print(f"\n{len(folders)} broken cases.csv folders: {dict(sorted(outcomes.items()))}")
    assert problems == [], "\n".join(problems)
