"""The DICOMweb client of ``simcase index --pacs`` and of the worker's WADO-RS pull.

``dicomweb_client`` retries every failed request 5 times with exponential backoff
(2 + 4 + 8 + 16 s), a refused connection included, and sets no timeout. Here its own
retries are off and the session's adapter decides instead (urllib3's ``Retry``): a
connection that cannot be made (refused, no route, name unknown) fails at once; a read
timeout and a 502/503/504 are tried again at most :data:`RETRIES` times, at once and then
after 2 x :data:`BACKOFF_SECONDS` s (1 s). Every request has a connect and a read timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from dicomweb_client.api import DICOMwebClient

__all__ = [
    "BACKOFF_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "READ_TIMEOUT_SECONDS",
    "RETRIES",
    "dicomweb_client",
    "pacs_session",
]

#: Tries after the first, for a read timeout or a 502, 503 or 504 only.
RETRIES = 2
#: urllib3's backoff factor: no wait before the first retry, 2 x this before the second.
BACKOFF_SECONDS = 0.5
#: Seconds to open a connection, and to wait for each read of the answer.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 60.0
_RETRIED_STATUSES = frozenset({502, 503, 504})


class _TimeoutAdapter(HTTPAdapter):
    """An adapter that gives every request the timeouts above unless it names its own."""

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        if timeout is None:
            timeout = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
        return super().send(request, stream, timeout, verify, cert, proxies)


def pacs_session() -> requests.Session:
    """A session that fails at once when the PACS cannot be reached and retries only
    read timeouts and 502/503/504 answers, briefly."""
    retry = Retry(
        total=RETRIES,
        connect=0,  # refused, unreachable, connect timeout: no point trying again now
        read=RETRIES,
        status=RETRIES,
        other=0,
        status_forcelist=_RETRIED_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),  # QIDO-RS and WADO-RS only
        backoff_factor=BACKOFF_SECONDS,
        raise_on_status=False,  # the last answer goes back: the caller sees its status
        respect_retry_after_header=False,
    )
    session = requests.Session()
    adapter = _TimeoutAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def dicomweb_client(url: str) -> DICOMwebClient:
    """A DICOMweb client of ``url`` on :func:`pacs_session`, its own retries off."""
    from dicomweb_client.api import DICOMwebClient

    client = DICOMwebClient(url=url.rstrip("/"), session=pacs_session())
    client.set_http_retry_params(retry=False)
    return client
