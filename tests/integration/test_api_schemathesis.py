"""The HTTP contract, checked by schemathesis against the real API.

The API runs under uvicorn on 127.0.0.1 (its own lifespan: connection pool and job
queue on an embedded PostgreSQL test database, the shipped models), with the admin and
search tokens configured and sent, so the authenticated paths are exercised. Every
operation of the OpenAPI schema gets a fixed number of generated requests (valid and
invalid ones, hypothesis derandomized: the same requests on every run). Two checks:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: every status answered is listed in the operation's
  OpenAPI ``responses``.

Every failure is collected (not only the first) and reported together.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, status_code_conformance
from schemathesis.errors import FailureGroup

from plugin.api import create_app
from plugin.settings import ApiSettings, Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = "a" * 32
SEARCH = "search-token-0123456789abcdef"
#: Generated requests per operation and generation mode (positive, negative).
EXAMPLES = 25
#: Routes behind the admin token; every other route takes the search credential.
ADMIN_PREFIXES = ("/api/v1/admin", "/api/v1/studies")


@pytest.fixture
def api_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        api=ApiSettings(admin_token=ADMIN, search_token=SEARCH, max_upload_bytes=1024 * 1024),
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, database_url), host="127.0.0.1", port=port, log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def token_for(path: str) -> str:
    return ADMIN if path.startswith(ADMIN_PREFIXES) else SEARCH


def run_operation(
    operation: schemathesis.APIOperation, base: str, mode: GenerationMode
) -> tuple[list[str], dict[int, int]]:
    """Sends ``EXAMPLES`` generated requests; the failures found and the statuses seen."""
    failures: list[str] = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {token_for(operation.path)}"}

    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers=headers, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
        except FailureGroup as group:
            for failure in group.exceptions:
                failures.append(
                    f"{operation.label} [{mode.value}] {response.status_code}: "
                    f"{str(failure).splitlines()[0]} -- {response.text[:200]!r}\n"
                    f"    {case.as_curl_command()[:400]}"
                )

    check()
    return failures, statuses


def test_every_operation_keeps_its_http_contract(api_url: str) -> None:
    schema = schemathesis.openapi.from_dict(httpx.get(f"{api_url}/openapi.json").json())
    failures: list[str] = []
    seen: dict[str, dict[int, int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        # an operation without parameters or body has no invalid request to generate
        takes_input = bool(operation.definition.raw.get("parameters")) or bool(
            operation.definition.raw.get("requestBody")
        )
        modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * takes_input
        for mode in modes:
            started = time.monotonic()
            found, statuses = run_operation(operation, api_url, mode)
            failures += found
            print(f"{operation.label} [{mode.value}] {time.monotonic() - started:.1f} s")
            for code, count in statuses.items():
                seen.setdefault(operation.label, {}).setdefault(code, 0)
                seen[operation.label][code] += count
    for label, statuses in sorted(seen.items()):
        print(label, dict(sorted(statuses.items())))
    assert len(seen) >= 17, sorted(seen)
    assert failures == [], "\n".join(failures)
