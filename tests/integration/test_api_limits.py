"""HTTP parameters and uploads out of range: 4xx answers, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plugin.api import create_app
from plugin.settings import ApiSettings, Settings

pytestmark = pytest.mark.integration

TOKEN = "t" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        api=ApiSettings(admin_token=TOKEN, max_upload_bytes=1024 * 1024),
    )
    with TestClient(create_app(settings, database_url), raise_server_exceptions=False) as c:
        yield c


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


def test_pacs_search_rejects_non_uids(client: TestClient) -> None:
    for uid in ("..", "1" * 65, "1.2.abc", "1.2."):
        response = client.post(f"/api/v1/studies/{uid}/search", headers=AUTH)
        assert response.status_code == 422, (uid, response.text)
    assert client.post("/api/v1/studies/1.2.3/search", headers=AUTH).status_code == 409


def test_openapi_lists_the_error_statuses(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"413", "422"} <= set(paths["/api/v1/search"]["post"]["responses"])
    assert {"401", "422"} <= set(paths["/api/v1/admin/cases"]["get"]["responses"])
