"""simcase's API app on a test database, as the integration tests open it.

:func:`api_test_client` builds the app's :class:`~fastapi.testclient.TestClient` (start
it with ``with``); the ``open_api`` fixture (``tests/integration/conftest.py``) starts
one for a test and closes it after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from plugin.api import create_app
from plugin.settings import ApiSettings, Settings


def api_test_client(
    database_url: str,
    data_dir: Path,
    api: ApiSettings | None = None,
    *,
    model_dir: Path | None = None,
    **client_options: Any,
) -> TestClient:
    """The API app on ``database_url`` with these settings (the environment's for the
    rest); ``client_options`` go to the TestClient (``raise_server_exceptions``,
    ``client``)."""
    given: dict[str, Any] = {"database_url": database_url, "data_dir": data_dir}
    if api is not None:
        given["api"] = api
    if model_dir is not None:
        given["model_dir"] = model_dir
    return TestClient(create_app(Settings(**given), database_url), **client_options)
