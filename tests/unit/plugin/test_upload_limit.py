"""The upload limit stops reading at the limit; error texts show no server paths."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from plugin.api.upload_files import without_paths
from plugin.api.upload_limit import UploadLimit

CHUNK = 64 * 1024


async def _reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body (as multipart parsing does), then answers 200."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _run(headers: list[tuple[bytes, bytes]], chunks: int, limit: int) -> tuple[int, int]:
    """(status sent, body bytes the server pulled from the client)."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += CHUNK
        return {"type": "http.request", "body": b"\0" * CHUNK, "more_body": pulled < chunks * CHUNK}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/search",
        "headers": headers,
    }
    asyncio.run(UploadLimit(_reading_app, limit, ("/api/v1/search",))(scope, receive, send))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    return int(starts[0]["status"]), pulled


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    status, pulled = _run([(b"content-length", str(300 * 2**20).encode())], 4800, 2**20)
    assert (status, pulled) == (413, 0)


def test_streamed_body_is_cut_off_at_the_limit() -> None:
    """Before: a 300 MB upload was read in full before the 422."""
    status, pulled = _run([(b"transfer-encoding", b"chunked")], 4800, 2**20)  # 300 MiB sent
    assert status == 413
    assert pulled <= 2**20 + CHUNK


def test_body_under_the_limit_passes() -> None:
    assert _run([], 4, 2**20) == (200, 4 * CHUNK)


def test_error_texts_never_show_server_paths() -> None:
    tmp = tempfile.mkdtemp(prefix="simcase-query-")
    message = (
        f"No DICOM or NIfTI files under {tmp}/00000_x.dcm; also "
        f"'{tempfile.gettempdir()}/other' and {tmp}"
    )
    clean = without_paths(message, tmp)
    assert tmp not in clean and tempfile.gettempdir() not in clean
    assert clean.startswith("No DICOM or NIfTI files under <upload>; also '<upload>' and")
