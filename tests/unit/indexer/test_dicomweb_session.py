"""The DICOMweb session (``indexer.dicomweb_session``) against real HTTP servers on
127.0.0.1: a refused connection fails at once; 502/503/504 and read timeouts are tried
again, briefly; a client error is not (issue 15: ``index --pacs`` took 30 s to say the
PACS was down)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from indexer import dicomweb_session
from indexer.dicomweb_session import RETRIES, dicomweb_client, pacs_session
from tests.conftest import free_port


class _Scripted(BaseHTTPRequestHandler):
    """Answers the server's ``statuses`` in turn (the last one from then on)."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        server.requests += 1
        status = server.statuses[min(server.requests, len(server.statuses)) - 1]
        body = b"[]"
        self.send_response(status)
        self.send_header("Content-Type", "application/dicom+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.statuses = statuses
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[list[_Server]]:
    servers: list[_Server] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def _start(servers: list[_Server], statuses: list[int]) -> _Server:
    server = _Server(statuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return server


def test_a_refused_connection_fails_at_once() -> None:
    url = f"http://127.0.0.1:{free_port()}/dicom-web"
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        dicomweb_client(url).search_for_studies(search_filters={"ModalitiesInStudy": "MR"})
    assert time.monotonic() - started < 1.0


def test_unavailable_answers_are_tried_again_then_succeed(serve: list[_Server]) -> None:
    server = _start(serve, [503, 502, 200])
    started = time.monotonic()
    assert dicomweb_client(f"{server.url}/dicom-web").search_for_studies() == []
    assert server.requests == 3
    assert time.monotonic() - started < 2 * dicomweb_session.BACKOFF_SECONDS + 1


def test_a_pacs_that_stays_unavailable_is_its_last_status_after_the_retries(
    serve: list[_Server],
) -> None:
    server = _start(serve, [503])
    with pytest.raises(requests.HTTPError) as raised:
        dicomweb_client(f"{server.url}/dicom-web").search_for_studies()
    assert raised.value.response is not None
    assert raised.value.response.status_code == 503
    assert server.requests == 1 + RETRIES


def test_a_client_error_is_not_tried_again(serve: list[_Server]) -> None:
    server = _start(serve, [404])
    assert pacs_session().get(f"{server.url}/studies").status_code == 404
    assert server.requests == 1


def test_a_read_timeout_is_tried_again_within_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that accepts connections and never answers."""
    monkeypatch.setattr(dicomweb_session, "READ_TIMEOUT_SECONDS", 0.3)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(requests.ConnectionError):  # urllib3's read-timeout MaxRetryError
            pacs_session().get(f"http://127.0.0.1:{listener.getsockname()[1]}/studies")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert len(accepted) == 1 + RETRIES
    assert elapsed < (1 + RETRIES) * 0.3 + 2 * dicomweb_session.BACKOFF_SECONDS + 1
