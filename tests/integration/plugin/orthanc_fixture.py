"""A real Orthanc (Debian's ``Orthanc`` binary) for tests: own storage, free ports.

Orthanc 1.10 has no option to bind an address: its HTTP and DICOM ports listen on every
interface. So it runs in a network namespace of its own with only loopback (``unshare
--net``, or ``unshare --user --map-root-user --net`` for a user other than root), and
two relays (:mod:`tests.integration.plugin.loopback_relay`, one on each side, joined by
Unix sockets) carry its HTTP and DICOM ports to 127.0.0.1 here, and the ports it calls
(simcase's listener, the forward script's notify URL) from its loopback to ours: nothing
of the test listens beyond 127.0.0.1. A process already in such a namespace (the
benchmarks, ``bench/isolation.py``) runs it directly. The configuration also forbids
remote HTTP access.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from plugin.orthanc import orthanc_config
from tests.conftest import free_port
from tests.integration.plugin.loopback_relay import READY

REPO = Path(__file__).resolve().parents[3]

__all__ = ["OrthancServer", "orthanc_available", "running_orthanc"]


def orthanc_available() -> bool:
    return shutil.which("Orthanc") is not None


@dataclass
class OrthancServer:
    """A running Orthanc: where it listens and a small REST client."""

    http_port: int
    dicom_port: int
    aet: str
    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        response = httpx.post(self.url + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def log_text(self) -> str:
        return (self.directory / "orthanc.log").read_text(errors="replace")


@contextmanager
def running_orthanc(
    directory: Path,
    *,
    stable_age: int = 2,
    simcase_port: int = 11112,
    forward_script: Path | None = None,
    forward_settings: dict[str, Any] | None = None,
    timeout: float = 30.0,
    ports: tuple[int, int] | None = None,
) -> Iterator[OrthancServer]:
    """Start Orthanc with the shipped configuration (on ``ports``, HTTP and DICOM, when
    given, else free ones); stop it (SIGTERM) at the end."""
    directory.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = ports or (free_port(), free_port())
    config = orthanc_config(
        directory / "storage",
        http_port=http_port,
        dicom_port=dicom_port,
        simcase_port=simcase_port,
        stable_age=stable_age,
        forward_script=forward_script,
        forward_settings=forward_settings,
    )
    config_path = directory / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    log = (directory / "orthanc.log").open("wb")
    outward = {simcase_port}
    notify = urlsplit(str((forward_settings or {}).get("NotifyUrl", ""))).port
    outward |= {notify} if notify else set()
    try:
        with _started(
            config_path, log, directory, (http_port, dicom_port), sorted(outward)
        ) as process:
            server = OrthancServer(http_port, dicom_port, "ORTHANC", directory, process)
            _wait_until_ready(server, timeout)
            yield server
    finally:
        log.close()


def _wait_until_ready(server: OrthancServer, timeout: float) -> None:
    """Until Orthanc answers HTTP (through the relay), or fail with its log."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"Orthanc exited at start-up:\n{server.log_text()}")
        try:
            if httpx.get(server.url + "/system", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"Orthanc did not start in {timeout} s:\n{server.log_text()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _private_already() -> bool:
    return sorted(name for _, name in socket.if_nameindex()) == ["lo"]


@contextmanager
def _started(
    config: Path, log: IO[bytes], cwd: Path, inward: tuple[int, int], outward: list[int]
) -> Iterator[subprocess.Popen[bytes]]:
    """Orthanc's process: in a network namespace of its own, its ports relayed."""
    if _private_already():
        direct = subprocess.Popen(["Orthanc", str(config)], stdout=log, stderr=log, cwd=cwd)
        try:
            yield direct
        finally:
            _stop(direct)
        return
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the Orthanc fixture needs {tool} to keep Orthanc on loopback")
    root = os.geteuid() == 0
    process = subprocess.Popen(
        [
            "unshare",
            *(["--net"] if root else ["--user", "--map-root-user", "--net"]),
            *("sh", "-c", 'ip link set lo up && exec "$@"', "sh", "Orthanc", str(config)),
        ],
        stdout=log,
        stderr=log,
        cwd=cwd,
    )
    relays: list[subprocess.Popen[str]] = []
    sockets = Path(tempfile.mkdtemp(prefix="orthanc-relay-"))  # short: Unix socket paths
    try:
        _wait_for_namespace(process)
        enter = ["nsenter", "-t", str(process.pid), "-n"]
        enter += [] if root else ["-U", "--preserve-credentials"]
        inside = [f"unix:{sockets}/in-{p}=tcp:{p}" for p in inward]
        inside += [f"tcp:{p}=unix:{sockets}/out-{p}" for p in outward]
        here = [f"tcp:{p}=unix:{sockets}/in-{p}" for p in inward]
        here += [f"unix:{sockets}/out-{p}=tcp:{p}" for p in outward]
        for prefix, rules in ((enter, inside), ([], here)):
            relays.append(_relay(prefix, rules))
        yield process
    finally:
        for relay in relays:
            _stop(relay)
        _stop(process)
        shutil.rmtree(sockets, ignore_errors=True)


def _wait_for_namespace(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Until ``process`` is in a network namespace other than ours (``unshare`` done)."""
    ours = os.readlink("/proc/self/ns/net")
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc's namespace could not be made: exit {process.returncode}")
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{process.pid}/ns/net") != ours:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("Orthanc's network namespace was not made in time")
        time.sleep(0.01)


def _relay(prefix: list[str], rules: list[str]) -> subprocess.Popen[str]:
    """A relay process (after ``prefix``: nsenter into Orthanc's namespace), ready."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    relay = subprocess.Popen(
        [*prefix, sys.executable, "-m", "tests.integration.plugin.loopback_relay", *rules],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    assert relay.stdout is not None
    if relay.stdout.readline().strip() != READY:
        _stop(relay)
        raise RuntimeError(f"the Orthanc fixture's relay did not start: {rules}")
    return relay
