"""Keeping a benchmark's servers to itself: loopback only, and gone when it stops.

dcmtk's ``storescp`` (3.6.7, Debian's) has no option to bind an address and Orthanc's
DICOM port listens on every interface, so :func:`run_guarded` first re-runs the
benchmark in a network namespace of its own (``unshare --net``, or ``unshare
--user --map-root-user --net`` for a user other than root) where only loopback exists
and is up: nothing it starts can be reached from another host. The process keeps its
pid (``unshare`` and ``sh`` exec), so ``timeout`` and ``kill`` still reach it.

It then turns SIGTERM, SIGHUP and SIGINT into :class:`SystemExit` (``128 + signal``)
so that every ``finally`` of the benchmark runs (each server's context manager stops
its process, the embedded PostgreSQL is released); a second signal during that
clean-up is noted, not raised, so the clean-up finishes. Last, any child process still
running (one started outside a context manager, or a grandchild) is terminated, then
killed after 10 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

import psutil

__all__ = ["PRIVATE_NETWORK_MARK", "enter_private_network", "reap_children", "run_guarded"]

#: Set in the environment once the benchmark runs in its own network namespace.
PRIVATE_NETWORK_MARK = "SIMCASE_BENCH_PRIVATE_NETWORK"

_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def interfaces() -> list[str]:
    """The network interfaces of this process's network namespace."""
    return sorted(name for _, name in socket.if_nameindex())


def enter_private_network() -> None:
    """Re-run this process (same pid, same arguments) in a network namespace with only
    loopback, up; return at once when already there. Fails loudly without ``unshare``
    (util-linux) or ``ip`` (iproute2)."""
    if os.environ.get(PRIVATE_NETWORK_MARK) == "1":
        if interfaces() != ["lo"]:
            raise RuntimeError(f"not in a private network namespace: {interfaces()}")
        return
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the benchmark needs {tool} to keep its servers on loopback")
    namespaces = ["--net"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--net"]
    os.environ[PRIVATE_NETWORK_MARK] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, *sys.orig_argv[1:]]
    up = 'ip link set lo up && exec "$@"'
    os.execvp("unshare", ["unshare", *namespaces, "sh", "-c", up, "sh", *argv])


def _stop_on_signals() -> list[int]:
    """SIGTERM, SIGHUP, SIGINT: raise SystemExit(128 + signal) once, then only note;
    the list of signals received (append to it to stop raising)."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        print(f"benchmark: signal {signum}, stopping its processes", file=sys.stderr)
        if len(received) == 1:
            raise SystemExit(128 + signum)

    for sig in _SIGNALS:
        signal.signal(sig, handler)
    return received


def reap_children(timeout: float = 10.0) -> list[int]:
    """Terminate every process still descending from this one, kill those still there
    after ``timeout`` seconds; the pids that were found."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return [c.pid for c in children]


def run_guarded(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main`` in a private network namespace, stopping its servers
    on SIGTERM, SIGHUP or SIGINT and on any exit, and leaving no child behind."""
    enter_private_network()
    received = _stop_on_signals()
    try:
        main()
    finally:
        received.append(0)  # a signal from here on must not cut the clean-up short
        left = reap_children()
        if left:
            print(f"benchmark: stopped {len(left)} leftover process(es)", file=sys.stderr)
