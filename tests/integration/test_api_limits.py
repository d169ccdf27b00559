"""HTTP parameters and uploads out of range: 4xx answers, never a 500."""

from __future__ import annotations

import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plugin.settings import ApiSettings
from tests.unit.plugin.test_upload_files import gzip_bomb, zip_bomb, zip_of

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
TOKEN = "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(open_api: Callable[..., TestClient]) -> TestClient:
    api = ApiSettings(
        admin_token=TOKEN, max_upload_bytes=1024 * 1024, max_uncompressed_bytes=8 * MiB
    )
    return open_api(api, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/admin/jobs?limit=-1",
        "/api/v1/admin/jobs?limit=0",
        "/api/v1/admin/jobs?limit=99999999999999999999",
        "/api/v1/admin/cases?limit=-5",
        "/api/v1/admin/cases?offset=-1",
        "/api/v1/admin/cases?offset=99999999999999999999",
        "/api/v1/admin/cases?diagnosis=" + "g" * 500,
        "/api/v1/admin/jobs/99999999999999999999",
        "/api/v1/admin/jobs/-3",
        "/api/v1/admin/cases/" + "c" * 500,
    ],
)
def test_out_of_range_parameters_are_422(client: TestClient, path: str) -> None:
    """Before: negative limit/offset and huge ids reached PostgreSQL and gave 500."""
    response = client.get(path, headers=AUTH)
    assert response.status_code == 422, response.text


def test_in_range_parameters_still_work(client: TestClient) -> None:
    assert client.get("/api/v1/admin/jobs?limit=1000", headers=AUTH).status_code == 200
    assert client.get("/api/v1/admin/cases?limit=1&offset=5", headers=AUTH).json() == []
    assert client.get("/api/v1/admin/jobs/12345", headers=AUTH).status_code == 404


def test_upload_over_the_limit_is_413_declared_or_streamed(client: TestClient) -> None:
    big = b"\0" * (2 * 1024 * 1024)
    response = client.post("/api/v1/search", files={"files": ("x.dcm", big)})
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"\0" * 65536

    response = client.post(
        "/api/v1/search",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "make"),
    [("study.zip", zip_bomb), ("case-t1n.nii.gz", gzip_bomb), ("x.dcm.gz", gzip_bomb)],
)
def test_a_decompression_bomb_is_413_with_memory_bounded_and_nothing_left(
    client: TestClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Callable[[], bytes],
) -> None:
    """Before: nothing limited the decompressed size (a .nii.gz with a valid header was
    decompressed whole by the NIfTI reader) and a .zip was not unpacked (422)."""
    data = make()  # 50 MiB of zeros, about 50 kB compressed: under the upload limit
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    tracemalloc.start()
    try:
        response = client.post("/api/v1/search", files={"files": (name, data)})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == (
        f"the upload decompresses to more than the limit of {8 * MiB} bytes"
    )
    assert peak < 16 * MiB, peak
    assert list(temp.iterdir()) == []


def test_an_archive_under_the_limit_is_unpacked_and_read(client: TestClient) -> None:
    data = zip_of({"notes/readme.txt": b"not DICOM"})
    response = client.post("/api/v1/search", files={"files": ("study.zip", data)})
    assert response.status_code == 422
    assert response.json()["detail"] == "cannot read the upload: no DICOM instances in <upload>"
    broken = client.post("/api/v1/search", files={"files": ("study.zip", b"PK\3\4junk")})
    assert broken.status_code == 422
    assert broken.json()["detail"].startswith("cannot unpack the upload: ")


def test_pacs_search_rejects_non_uids(client: TestClient) -> None:
    for uid in ("..", "1" * 65, "1.2.abc", "1.2."):
        response = client.post(f"/api/v1/studies/{uid}/search", headers=AUTH)
        assert response.status_code == 422, (uid, response.text)
    assert client.post("/api/v1/studies/1.2.3/search", headers=AUTH).status_code == 409


def test_openapi_lists_the_error_statuses(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"413", "422"} <= set(paths["/api/v1/search"]["post"]["responses"])
    assert {"401", "422"} <= set(paths["/api/v1/admin/cases"]["get"]["responses"])


MALFORMED_BODIES = [
    ("garbage", "multipart/form-data; boundary=xyz"),
    ("garbage", "multipart/form-data"),
    (
        '--xyz\r\nContent-Disposition: form-data; name="files"; filename="a"\r\n\r\nabc',
        "multipart/form-data; boundary=xyz",
    ),
    ("x", "application/json"),
    ("x", "text/plain"),
    ("\xff\xfe", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize("path", ["/api/v1/search", "/api/v1/search/image"])
@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
def test_a_malformed_upload_body_is_a_documented_4xx(
    client: TestClient, path: str, body: str, content_type: str
) -> None:
    response = client.post(
        path, content=body.encode("latin-1"), headers={"content-type": content_type}
    )
    documented = client.get("/openapi.json").json()["paths"][path]["post"]["responses"]
    assert response.status_code < 500, response.text
    assert str(response.status_code) in documented, (response.status_code, sorted(documented))


def test_a_body_that_is_not_json_is_a_documented_400(client: TestClient) -> None:
    """Found by schemathesis: bytes that are not UTF-8 as a JSON body answered an
    undocumented 400."""
    response = client.post(
        "/api/v1/admin/reindex",
        content=b"\xff\x37\xfe",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    documented = client.get("/openapi.json").json()["paths"]["/api/v1/admin/reindex"]
    assert "400" in documented["post"]["responses"]
