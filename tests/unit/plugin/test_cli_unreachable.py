"""Every command that needs PostgreSQL or the PACS, when it cannot be reached: one line
on stderr naming the server (host:port, never the password) and exit status 3, not a
traceback (issue 15, reliability under bad input). The servers are real sockets: a
port on 127.0.0.1 that nothing listens on."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from plugin.cli import app
from plugin.cli._app import EXIT_UNAVAILABLE, _Commands
from plugin.settings import get_settings
from tests.conftest import free_port

PASSWORD = "s3cret-pw"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def closed_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[int]:
    """SIMCASE_DATABASE_URL names a port on 127.0.0.1 where nothing listens."""
    port = free_port()
    monkeypatch.setenv(
        "SIMCASE_DATABASE_URL", f"postgresql://simcase:{PASSWORD}@127.0.0.1:{port}/db"
    )
    monkeypatch.setenv("SIMCASE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield port
    get_settings.cache_clear()


def _archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    (root / "c1").mkdir(parents=True)
    (root / "cases.csv").write_text("case_id,diagnosis\nc1,glioma\n")
    return root


def _one_line(output: str) -> str:
    assert "Traceback" not in output and PASSWORD not in output, output
    lines = [line for line in output.splitlines() if line.startswith("simcase: ")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize(
    "command",
    ["index", "search", "reindex", "migrate", "worker", "api", "listen", "run"],
)
def test_every_database_command_says_which_server_in_one_line(
    command: str, closed_port: int, tmp_path: Path
) -> None:
    args = {"index": ["index", str(_archive(tmp_path))], "search": ["search", str(tmp_path)]}
    result = CliRunner().invoke(app, args.get(command, [command]))
    assert result.exit_code == EXIT_UNAVAILABLE, (result.output, result.exception)
    line = _one_line(result.stderr)
    assert line == (
        f"simcase: cannot connect to PostgreSQL at 127.0.0.1:{closed_port}"
        " (database db, user simcase): Connection refused"
    )


def test_the_console_script_prints_only_that_line(closed_port: int, tmp_path: Path) -> None:
    """The real entry point, in its own process: the line and status 3, nothing else."""
    done = subprocess.run(
        [sys.executable, "-m", "plugin.cli", "index", str(_archive(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert done.stderr.strip() == _one_line(done.stderr)
    assert f"127.0.0.1:{closed_port}" in done.stderr


def test_a_database_url_that_cannot_be_parsed_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIMCASE_DATABASE_URL", f"postgresql://simcase:{PASSWORD}@[::1/db")
    monkeypatch.setenv("SIMCASE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == EXIT_UNAVAILABLE
    assert "database URL (SIMCASE_DATABASE_URL) cannot be parsed" in _one_line(result.stderr)


def test_a_connection_lost_during_a_command_is_one_line_too(closed_port: int) -> None:
    """psycopg's own OperationalError (what a pool or a dropped connection raises, not
    the start-up check's error) reaches the same handler."""
    probe = typer.Typer(cls=_Commands)

    @probe.command()
    def lose() -> None:
        psycopg.connect(get_settings().database_url or "", connect_timeout=5)

    @probe.command()
    def other() -> None:  # two commands make a group, as simcase is
        """Unused."""

    result = CliRunner().invoke(probe, ["lose"])
    assert result.exit_code == EXIT_UNAVAILABLE
    assert _one_line(result.stderr) == (
        f"simcase: PostgreSQL at 127.0.0.1:{closed_port} (database db, user simcase)"
        " is unreachable: Connection refused"
    )


def test_an_unreachable_pacs_is_one_line_at_once(closed_port: int, tmp_path: Path) -> None:
    """A refused connection is not tried again (it took 30 s of the DICOMweb client's
    retries with backoff before: indexer.dicomweb_session)."""
    labels = tmp_path / "labels.csv"
    labels.write_text("study_instance_uid,diagnosis\n1.2.3,glioma\n")
    pacs = free_port()
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        [
            "index",
            "--pacs",
            f"http://user:{PASSWORD}@127.0.0.1:{pacs}/dicom-web",
            "--labels",
            str(labels),
        ],
    )
    assert result.exit_code == EXIT_UNAVAILABLE, (result.output, result.exception)
    assert _one_line(result.stderr) == (
        f"simcase: cannot reach the PACS at http://127.0.0.1:{pacs}: Connection refused"
    )
    assert time.monotonic() - started < 5
