"""The API's answers when something other than the client is at fault, and its access
log (issue 15, reliability under bad input): PostgreSQL down is a 503 problem detail
with Retry-After on every route that needs it, and the same routes answer again once
it is back; model files missing are a 503; a bug is a 500 logged without its message;
every admin and search request is one INFO line with no patient data."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from indexer.migrate import migrate
from plugin.api import create_app
from plugin.api.problems import PROBLEM_JSON
from plugin.settings import ApiSettings, Settings
from tests.integration.conftest import service_dir
from tests.integration.restartable_postgres import RestartablePostgres

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer admin-secret-for-tests"}
SEARCH = {"Authorization": "Bearer search-secret-for-tests"}
API = ApiSettings(
    admin_token="admin-secret-for-tests",
    search_token="search-secret-for-tests",
    database_wait_seconds=1,
)
PHI_ID = "PHI-ID-99173"

#: Routes that need PostgreSQL, with the headers that let them through.
DATABASE_ROUTES = [
    ("GET", "/health", {}),
    ("GET", "/api/v1/admin/jobs", ADMIN),
    ("GET", "/api/v1/admin/cases/c1", ADMIN),
    ("GET", "/api/v1/admin/audit", ADMIN),
    ("POST", "/api/v1/admin/reindex", ADMIN),
    ("POST", "/api/v1/admin/studies/1.2.3/process", ADMIN),
    ("GET", "/api/v1/map", SEARCH),
    ("GET", "/api/v1/cases/c1/outline.png", {}),
]


@pytest.fixture
def postgres() -> Iterator[RestartablePostgres]:
    with service_dir("pg-problems") as folder:
        server = RestartablePostgres(folder)
        migrate(server.start())
        try:
            yield server
        finally:
            server.close()


def _problem(response: object, status: int) -> dict[str, object]:
    from httpx import Response

    assert isinstance(response, Response)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status and isinstance(body["detail"], str)
    assert "Traceback" not in response.text and "/tmp/" not in response.text
    return dict(body)


def test_postgres_down_is_a_503_problem_then_the_api_answers_again(
    postgres: RestartablePostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=postgres.uri, data_dir=tmp_path, api=API)
    with TestClient(create_app(settings, postgres.uri), raise_server_exceptions=False) as client:
        assert client.get("/health").status_code == 200
        postgres.stop()
        with caplog.at_level(logging.INFO):
            for method, path, headers in DATABASE_ROUTES:
                response = client.request(method, path, headers=headers)
                body = _problem(response, 503)
                assert response.headers["retry-after"] == "30", path
                assert "database cannot be reached" in str(body["detail"]), path
        unavailable = [r for r in caplog.records if r.getMessage().startswith("answered 503")]
        assert len(unavailable) == len(DATABASE_ROUTES)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        postgres.restart()
        # The pool replaces its broken connections on demand: the API answers again
        # within seconds of PostgreSQL's return (each try waits database_wait_seconds).
        deadline = time.monotonic() + 30.0
        statuses = []
        while time.monotonic() < deadline:
            statuses.append(client.get("/health").status_code)
            if statuses[-1] == 200:
                break
        assert statuses[-1] == 200, statuses
        assert set(statuses) <= {200, 503}, statuses
        assert client.get("/api/v1/admin/jobs", headers=ADMIN).status_code == 200


#: Requests whose parameters do not validate, on routes that need PostgreSQL: the
#: field errors FastAPI reports for each.
INVALID_REQUESTS = [
    ("/api/v1/admin/jobs?limit=many", ADMIN, {(("query", "limit"), "int_parsing")}),
    ("/api/v1/admin/jobs/0", ADMIN, {(("path", "job_id"), "greater_than_equal")}),
    (
        "/api/v1/admin/cases?limit=0&offset=-1",
        ADMIN,
        {(("query", "limit"), "greater_than_equal"), (("query", "offset"), "greater_than_equal")},
    ),
    ("/api/v1/admin/audit?limit=5000", ADMIN, {(("query", "limit"), "less_than_equal")}),
]


def test_invalid_parameters_are_a_422_while_postgres_is_down(
    postgres: RestartablePostgres, tmp_path: Path
) -> None:
    """The parameters are checked before the pool is asked for a connection: a 422
    needs no database, asks the pool for nothing, and comes at once; credentials are
    still checked first, and a valid request is still the 503."""
    settings = Settings(database_url=postgres.uri, data_dir=tmp_path, api=API)
    with TestClient(create_app(settings, postgres.uri), raise_server_exceptions=False) as client:
        pool = client.app.state.pool  # type: ignore[attr-defined]
        assert client.get("/health").status_code == 200
        postgres.stop()
        requests_before = pool.get_stats().get("requests_num", 0)
        for path, headers, expected in INVALID_REQUESTS:
            started = time.monotonic()
            body = _problem(client.get(path, headers=headers), 422)
            assert time.monotonic() - started < API.database_wait_seconds, path
            errors = body["errors"]
            assert isinstance(errors, list)
            assert {(tuple(e["loc"]), e["type"]) for e in errors} == expected, path
        assert pool.get_stats().get("requests_num", 0) == requests_before
        assert client.get("/api/v1/admin/jobs?limit=many").status_code == 401  # no token
        _problem(client.get("/api/v1/admin/jobs?limit=5", headers=ADMIN), 503)
        assert pool.get_stats().get("requests_num", 0) == requests_before + 1


def test_model_files_missing_are_a_503_problem(database_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    settings = Settings(database_url=database_url, data_dir=tmp_path, api=API, model_dir=empty)
    with TestClient(create_app(settings, database_url), raise_server_exceptions=False) as client:
        for path in ("/api/v1/search", "/api/v1/search/image"):
            field = "files" if path.endswith("search") else "file"
            response = client.post(path, headers=SEARCH, files={field: ("a.dcm", b"x" * 300)})
            body = _problem(response, 503)
            assert "models are not available" in str(body["detail"])
            assert str(empty) not in response.text  # the server's folders stay in its log


def test_a_bug_is_a_500_problem_logged_with_its_frames_not_its_message(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, api=API), database_url)

    def broken() -> None:
        raise ValueError(f"patient {PHI_ID} broke it")

    app.add_api_route("/api/v1/broken", broken)  # the test's own route: a real bug
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.INFO),
    ):
        body = _problem(client.get("/api/v1/broken"), 500)
    assert PHI_ID not in str(body)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert PHI_ID not in logged
    assert "unexpected ValueError answering GET /api/v1/broken" in logged
    assert 'in broken\n    raise ValueError(f"patient {PHI_ID} broke it")' in logged
    assert "GET /api/v1/broken 500" in logged


def test_admin_and_search_requests_are_logged_without_patient_data(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = API.model_copy(update={"trusted_user_header": "X-Forwarded-User"})
    settings = Settings(database_url=database_url, data_dir=tmp_path, api=api)
    with (
        TestClient(create_app(settings, database_url)) as client,
        caplog.at_level(logging.INFO, logger="plugin.api.access"),
    ):
        client.get("/api/v1/admin/jobs?limit=5", headers=ADMIN)
        client.get(f"/api/v1/admin/cases/{PHI_ID}", headers=ADMIN)
        client.post("/api/v1/admin/reindex", headers={**ADMIN, "X-Forwarded-User": "dr.house"})
        client.post("/api/v1/studies/1.2.840.99/search", headers=ADMIN)
        client.get("/api/v1/admin/jobs")  # no token: no actor
        client.post(
            f"/api/v1/search?k=3&exclude_patient={PHI_ID}&metadata=name%3D{PHI_ID}",
            headers=SEARCH,
            files={"files": ("a.dcm", b"not dicom")},
        )
        client.get("/health")  # DEBUG, not INFO
        client.get(f"/{PHI_ID}")  # no route
    lines = [r.getMessage() for r in caplog.records if r.name == "plugin.api.access"]
    shapes = [
        line.split(" ms ")[0].rsplit(" ", 1)[0] + " | " + line.split(" ms ")[1] for line in lines
    ]
    assert shapes == [
        "GET /api/v1/admin/jobs?limit=5 200 | actor=admin token",
        "GET /api/v1/admin/cases/{case_id} 404 | actor=admin token",
        "POST /api/v1/admin/reindex 202 | actor=dr.house",
        "POST /api/v1/studies/1.2.840.99/search 409 | actor=admin token",
        "GET /api/v1/admin/jobs 401 | actor=-",
        "POST /api/v1/search?k=3&exclude_patient=~&metadata=~ 422 | actor=search token",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "plugin.api.access")
    assert PHI_ID not in "\n".join(r.getMessage() for r in caplog.records)
