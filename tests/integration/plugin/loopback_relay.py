"""Relay TCP connections between two network namespaces through Unix sockets (which
belong to the file system, not to a namespace); run one in each namespace:

    python -m tests.integration.plugin.loopback_relay RULE [RULE ...]

A rule is ``tcp:PORT=unix:PATH`` (listen on 127.0.0.1:PORT here, relay each connection
to the Unix socket PATH) or ``unix:PATH=tcp:PORT`` (listen on PATH, connect to
127.0.0.1:PORT here). It prints ``relay ready`` once every rule listens and runs until
SIGTERM. Used by :mod:`tests.integration.plugin.orthanc_fixture` to keep Orthanc, which
listens on every interface, in a network namespace with only loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

READY = "relay ready"
_CHUNK = 1 << 16


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the other direction may still carry data
    except (ConnectionError, OSError):
        writer.transport.abort()


async def _open(target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, where = target.partition(":")
    if kind == "tcp":
        return await asyncio.open_connection("127.0.0.1", int(where))
    return await asyncio.open_unix_connection(where)


def _handler(target: str) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            their_reader, their_writer = await _open(target)
        except OSError:
            writer.transport.abort()  # nothing there: the client sees the connection end
            return
        await asyncio.gather(_pipe(reader, their_writer), _pipe(their_reader, writer))
        for w in (writer, their_writer):
            w.close()
            with contextlib.suppress(ConnectionError, OSError):
                await w.wait_closed()

    return handle


async def _serve(rules: list[str]) -> None:
    servers = []
    for rule in rules:
        source, _, target = rule.partition("=")
        kind, _, where = source.partition(":")
        if kind == "tcp":
            server = await asyncio.start_server(_handler(target), "127.0.0.1", int(where))
        else:
            server = await asyncio.start_unix_server(_handler(target), where)
        servers.append(server)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(READY, flush=True)
    await stop.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1:]))
