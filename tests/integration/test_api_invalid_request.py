"""FastAPI's own 422 (parameters that do not validate) is a problem detail like every
other error, keeps the field errors, and the OpenAPI schema says so (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plugin.api import create_app
from plugin.api.problems import PROBLEM_JSON
from plugin.settings import ApiSettings, Settings

ADMIN = "a" * 32
SEARCH = "search-token-0123456789abcdef"
SENTINEL = "PHI-ID-99173"

pytestmark = pytest.mark.integration


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app on the test database (a route's dependencies open a connection before
    its parameters are checked)."""
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        api=ApiSettings(admin_token=ADMIN, search_token=SEARCH),
    )
    with TestClient(create_app(settings, database_url)) as client:
        yield client


def test_invalid_parameters_are_a_problem_detail_with_the_field_errors(
    client: TestClient,
) -> None:
    answer = client.get(
        "/api/v1/admin/cases",
        params={"limit": "many", "offset": "-1"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    body = answer.json()
    assert {k: body[k] for k in ("type", "title", "status")} == {
        "type": "about:blank",
        "title": "Unprocessable Entity",  # http.HTTPStatus(422).phrase on 3.11
        "status": 422,
    }
    assert sorted(tuple(e["loc"]) for e in body["errors"]) == [
        ("query", "limit"),
        ("query", "offset"),
    ]
    assert {e["type"] for e in body["errors"]} == {"int_parsing", "greater_than_equal"}
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])
    assert isinstance(body["detail"], str)
    assert "query.limit: Input should be a valid integer" in body["detail"]


def test_the_rejected_input_is_not_echoed(client: TestClient) -> None:
    answer = client.get(
        "/api/v1/admin/jobs",
        params={"limit": SENTINEL},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert answer.status_code == 422
    assert SENTINEL not in answer.text


def test_many_field_errors_are_all_listed_and_the_detail_stays_short(
    client: TestClient,
) -> None:
    answer = client.post(
        "/api/v1/search",
        params={"k": "0", "per_diagnosis": "99", "age_min": "x", "age_max": "y"},
        headers={"Authorization": f"Bearer {SEARCH}"},
    )
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert len(body["errors"]) >= 4
    assert body["detail"].count(";") == 2
    assert f"(and {len(body['errors']) - 3} more)" in body["detail"]


def test_the_openapi_schema_declares_the_problem_detail(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    problem = schema["components"]["schemas"]["HTTPValidationError"]
    assert problem["properties"]["detail"] == {"type": "string", "title": "Detail"}
    assert "errors" in problem["required"]
    invalid = [
        operation["responses"]["422"]["content"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        if "422" in operation["responses"] and "content" in operation["responses"]["422"]
    ]
    assert len(invalid) >= 10
    assert all(set(content) == {PROBLEM_JSON} for content in invalid)
