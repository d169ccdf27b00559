"""The benchmarks' guard (``bench/isolation.py``, issue 15): a benchmark killed by
SIGTERM (``timeout``, ``kill``) stops its servers, leaves no child running, and the
servers it ran (here dcmtk's ``storescp``, which cannot bind an address) were only
reachable on the loopback of a network namespace of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[3]

#: A stand-in benchmark: storescp in a context manager (as the benchmarks run it), and
#: a child started outside any context manager; it reports, then waits to be killed.
SCRIPT = """
import contextlib, json, os, subprocess, sys, time
from pathlib import Path
from bench.isolation import interfaces, run_guarded

out, port = Path(sys.argv[1]), sys.argv[2]

@contextlib.contextmanager
def storescp():
    proc = subprocess.Popen(["storescp", "-aet", "STORESCP", port])
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)
        (out / "storescp-stopped").write_text(str(proc.returncode))

def main():
    with storescp() as scp:
        stray = subprocess.Popen(["sleep", "300"])
        for _ in range(100):
            echo = subprocess.run(["echoscu", "-aec", "STORESCP", "127.0.0.1", port])
            if echo.returncode == 0:
                break
            time.sleep(0.1)
        state = {"pid": os.getpid(), "storescp": scp.pid, "stray": stray.pid,
                 "interfaces": interfaces(), "echo": echo.returncode}
        (out / "state.json").write_text(json.dumps(state))
        time.sleep(300)

run_guarded(main)
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_benchmark_killed_by_sigterm_stops_its_servers_kept_on_loopback(
    tmp_path: Path,
) -> None:
    port = str(free_port())
    script = tmp_path / "bench_stand_in.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SIMCASE_BENCH_PRIVATE_NETWORK", None)
    bench = subprocess.Popen([sys.executable, str(script), str(tmp_path), port], env=env)
    try:
        state_file = tmp_path / "state.json"
        deadline = time.monotonic() + 30
        while not state_file.exists():
            assert bench.poll() is None, f"the stand-in benchmark exited: {bench.returncode}"
            assert time.monotonic() < deadline, "the stand-in benchmark did not report"
            time.sleep(0.1)
        time.sleep(0.2)
        state = json.loads(state_file.read_text())
        assert state["pid"] == bench.pid  # unshare and sh exec: timeout and kill reach it
        assert state["interfaces"] == ["lo"] and state["echo"] == 0
        ours = os.readlink("/proc/self/ns/net")
        assert os.readlink(f"/proc/{state['storescp']}/ns/net") != ours
        outside = subprocess.run(
            ["echoscu", "-to", "2", "-aec", "STORESCP", "127.0.0.1", port], capture_output=True
        )
        assert outside.returncode != 0  # nothing listens on the port in this namespace
        started = time.monotonic()
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(30) == 128 + signal.SIGTERM
        assert time.monotonic() - started < 15
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert (tmp_path / "storescp-stopped").exists()  # the context manager's finally ran
    assert _gone(state["storescp"]) and _gone(state["stray"])
