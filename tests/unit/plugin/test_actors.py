"""Who the audit log names: the person from the trusted proxy header only when one is
configured, else how the request came in (a real FastAPI app, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from plugin.api.actors import SearchActor
from plugin.settings import ApiSettings, Settings


def _who(header: str | None, client: tuple[str, int], tmp_path: Path, **sent: str) -> str | int:
    """The actor named for a request, or the status code when it is refused."""
    app = FastAPI()
    app.state.settings = Settings(data_dir=tmp_path, api=ApiSettings(trusted_user_header=header))

    @app.get("/who")
    def who(actor: SearchActor) -> str:
        return actor

    with TestClient(app, client=client) as test_client:
        response = test_client.get("/who", headers=sent)
    if response.status_code != 200:
        return response.status_code
    actor: str = response.json()
    return actor


LOCAL = ("127.0.0.1", 5000)
REMOTE = ("10.2.3.4", 5000)


@pytest.mark.parametrize(
    ("header", "client", "sent", "expected"),
    [
        (None, LOCAL, {}, "anonymous (loopback)"),
        (None, ("::1", 5000), {}, "anonymous (loopback)"),
        (None, REMOTE, {}, "anonymous (remote)"),
        (None, REMOTE, {"Remote-User": "mallory"}, "anonymous (remote)"),  # never read
        ("Remote-User", REMOTE, {"Remote-User": "dr.alice"}, "dr.alice"),
        ("Remote-User", REMOTE, {"remote-user": "  bob  "}, "bob"),  # case-insensitive
        # The header is configured, so it is the credential: a request without it (or
        # with nothing printable in it) and without the search token is refused.
        ("Remote-User", REMOTE, {"X-Forwarded-User": "carol"}, 401),
        ("Remote-User", LOCAL, {"Remote-User": "\x7f\x7f"}, 401),
    ],
)
def test_search_actor(
    header: str | None,
    client: tuple[str, int],
    sent: dict[str, str],
    expected: str | int,
    tmp_path: Path,
) -> None:
    assert _who(header, client, tmp_path, **sent) == expected


def test_the_header_setting_is_a_header_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCASE_API__TRUSTED_USER_HEADER", "X-Forwarded-User")
    assert Settings().api.trusted_user_header == "X-Forwarded-User"
    assert ApiSettings().trusted_user_header is None
    with pytest.raises(ValidationError):
        ApiSettings(trusted_user_header="X-User: injected")
