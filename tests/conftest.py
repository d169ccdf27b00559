"""Shared test helpers: free ports, strict pydicom."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest


def _without_venv_scripts(path: str) -> str:
    """``PATH`` without the virtual environment's script folder.

    pynetdicom installs its own ``storescu``/``findscu``/``echoscu`` there; with an
    activated venv they would shadow dcmtk's tools, which the tests mean to run (simcase
    itself is always started as ``sys.executable -m plugin.cli``).
    """
    scripts = Path(sys.executable).parent.resolve()
    kept = [p for p in path.split(os.pathsep) if p and Path(p).resolve() != scripts]
    return os.pathsep.join(kept)


os.environ["PATH"] = _without_venv_scripts(os.environ.get("PATH", ""))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def port() -> int:
    return free_port()
