"""docker/ohif/serve.py: OHIF's static files and a same-origin proxy to a real Orthanc."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.plugin.orthanc_fixture import OrthancServer
from tests.unit.plugin.samples import mr_series

pytestmark = pytest.mark.integration

SERVE = Path(__file__).resolve().parents[3] / "docker" / "ohif" / "serve.py"


def load_serve() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ohif_serve", SERVE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_split_includefield() -> None:
    split = load_serve().split_includefield
    assert split("includefield=a,b&limit=5") == "includefield=a&includefield=b&limit=5"
    assert split("PatientID=x") == "PatientID=x"


@pytest.fixture
def ohif(orthanc: OrthancServer, tmp_path: Path) -> Iterator[str]:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<html>ohif</html>")
    (dist / "app.js").write_text("console.log(1)")
    port = free_port()
    server = load_serve().make_server(dist, orthanc.url, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_static_files_config_and_spa_fallback(ohif: str) -> None:
    assert httpx.get(ohif + "/app.js").text == "console.log(1)"
    assert httpx.get(ohif + "/viewer?StudyInstanceUIDs=1.2.3").text == "<html>ohif</html>"
    config = httpx.get(ohif + "/app-config.js")
    assert "qidoSupportsIncludeField: false" in config.text
    assert httpx.get(ohif + "/../../etc/passwd").text == "<html>ohif</html>"


def test_dicomweb_is_proxied_to_orthanc(ohif: str, orthanc: OrthancServer, tmp_path: Path) -> None:
    series = mr_series(1, seed=21)
    path = tmp_path / "a.dcm"
    series[0].save_as(path, enforce_file_format=True)
    subprocess.run(
        ["storescu", "-aec", orthanc.aet, "127.0.0.1", str(orthanc.dicom_port), str(path)],
        env={**os.environ, "TCP_NODELAY": "1"},
        check=True,
        timeout=60,
    )
    response = httpx.get(
        ohif + "/dicom-web/studies",
        params={
            "StudyInstanceUID": series[0].StudyInstanceUID,
            "includefield": "00081030,00080060",
        },
        headers={"Accept": "application/dicom+json"},
        timeout=30,
    )
    assert response.status_code == 200
    (study,) = response.json()
    assert study["0020000D"]["Value"] == [series[0].StudyInstanceUID]
    assert study["00081030"]["Value"] == ["MRI BRAIN"]  # includefield split worked
