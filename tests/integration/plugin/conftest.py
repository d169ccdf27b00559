"""Fixtures of the plugin integration tests: a real Orthanc."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.plugin.orthanc_fixture import (
    OrthancServer,
    orthanc_available,
    running_orthanc,
)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """An Orthanc shared by the tests of one module (its own storage and ports)."""
    if not orthanc_available():
        pytest.skip("the Orthanc binary is not installed")
    with running_orthanc(Path(tmp_path_factory.mktemp("orthanc"))) as server:
        yield server
