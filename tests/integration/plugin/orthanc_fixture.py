"""A real Orthanc (Debian's ``Orthanc`` binary) for tests: own storage, free ports.

Orthanc 1.10 listens on all interfaces; the configuration forbids remote HTTP access
and the tests only ever address 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from plugin.orthanc import orthanc_config
from tests.conftest import free_port

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
    process = subprocess.Popen(
        ["Orthanc", str(config_path)], stdout=log, stderr=subprocess.STDOUT, cwd=directory
    )
    server = OrthancServer(http_port, dicom_port, "ORTHANC", directory, process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start-up:\n{server.log_text()}")
            try:
                if httpx.get(server.url + "/system", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Orthanc did not start in {timeout} s:\n{server.log_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
