"""The search credential: the endpoints that show archive images or patient-derived data
(search, image search, a case's pictures, the archive map) answer 401 without the search
bearer token or the sign-on proxy's user header, when either is configured; open only
when neither is (which only a loopback address allows, ``ApiSettings.check_safe``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from plugin.cli import app as cli
from plugin.settings import ApiSettings, get_settings
from tests.integration.api_client import api_test_client

pytestmark = pytest.mark.integration

ADMIN = "a" * 32
SEARCH = "search-token-0123456789abcdef"
HEADER = "X-Forwarded-User"

#: (method, path, request keyword arguments): every route behind the search credential.
ROUTES = [
    ("POST", "/api/v1/search", {"files": {"files": ("x.dcm", b"not dicom")}}),
    ("POST", "/api/v1/search/image", {"files": {"file": ("x.png", b"not an image")}}),
    ("GET", "/api/v1/cases/no-such-case/pictures", {}),
    ("GET", "/api/v1/map", {}),
]
IDS = [path for _, path, _ in ROUTES]


def _client(database_url: str, data_dir: Path, api: ApiSettings) -> TestClient:
    return api_test_client(database_url, data_dir, api, raise_server_exceptions=False)


@pytest.fixture
def guarded(open_api: Callable[..., TestClient]) -> TestClient:
    api = ApiSettings(admin_token=ADMIN, search_token=SEARCH, trusted_user_header=HEADER)
    return open_api(api, raise_server_exceptions=False)


def _call(client: TestClient, route: tuple[str, str, dict[str, object]], **headers: str) -> int:
    method, path, kwargs = route
    response = client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]
    return response.status_code


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_search_endpoints_need_the_credential(
    guarded: TestClient, route: tuple[str, str, dict[str, object]]
) -> None:
    """Before: every one of these answered anyone, on any address."""
    method, path, kwargs = route
    refused = guarded.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert refused.status_code == 401, refused.text
    assert refused.json()["detail"] == (
        "searching the archive requires a valid search bearer token"
        f" or the {HEADER} header of the sign-on proxy"
    )
    assert refused.headers["www-authenticate"] == "Bearer"
    for headers in (
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {SEARCH}x"},
        {"Authorization": f"Bearer {ADMIN}"},  # the admin token is not a search token
        {"Authorization": f"Bearer {SEARCH[:-1]}"},
        {HEADER: ""},
        {HEADER: "   "},
        {"X-Other-User": "alice"},
    ):
        assert _call(guarded, route, **headers) == 401, headers
    # The right token, or the proxy's header, gets past the check (to the route's own
    # answer: unreadable upload, no such case, empty archive).
    assert _call(guarded, route, Authorization=f"Bearer {SEARCH}") in (404, 409, 422)
    assert _call(guarded, route, **{HEADER: "dr.house"}) in (404, 409, 422)


def test_open_on_loopback_without_a_credential(database_url: str, tmp_path: Path) -> None:
    """``make run`` and the demo: no credential configured, 127.0.0.1, the page works."""
    with _client(database_url, tmp_path, ApiSettings(admin_token=ADMIN)) as client:
        for route in ROUTES:
            assert _call(client, route) in (404, 409, 422), route[1]


def test_token_only_and_header_only(database_url: str, tmp_path: Path) -> None:
    route = ROUTES[3]
    api = ApiSettings(admin_token=ADMIN, search_token=SEARCH)
    with _client(database_url, tmp_path / "a", api) as client:
        assert _call(client, route, **{HEADER: "alice"}) == 401  # no header configured
        assert _call(client, route, Authorization=f"Bearer {SEARCH}") == 409
    api = ApiSettings(admin_token=ADMIN, trusted_user_header=HEADER)
    with _client(database_url, tmp_path / "b", api) as client:
        refused = client.get(route[1], headers={"Authorization": f"Bearer {SEARCH}"})
        assert refused.status_code == 401
        assert HEADER in refused.json()["detail"]
        assert _call(client, route, **{HEADER.lower(): "alice"}) == 409


def test_openapi_lists_401_on_every_guarded_route(guarded: TestClient) -> None:
    paths = guarded.get("/openapi.json").json()["paths"]
    for method, path, _ in ROUTES:
        template = path.replace("no-such-case", "{case_id}")
        responses = paths[template][method.lower()]["responses"]
        assert "401" in responses, path
        assert "SIMCASE_API__SEARCH_TOKEN" in responses["401"]["description"]


def test_the_api_refuses_to_start_off_loopback_without_a_search_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``simcase api`` on 0.0.0.0 with a good admin token but no search credential stops
    with a message naming the settings, before anything starts."""
    monkeypatch.setenv("SIMCASE_API__HOST", "0.0.0.0")
    monkeypatch.setenv("SIMCASE_API__ADMIN_TOKEN", ADMIN)
    monkeypatch.delenv("SIMCASE_API__SEARCH_TOKEN", raising=False)
    monkeypatch.delenv("SIMCASE_API__TRUSTED_USER_HEADER", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["api"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "SIMCASE_API__SEARCH_TOKEN" in result.output
    assert "SIMCASE_API__TRUSTED_USER_HEADER" in result.output
