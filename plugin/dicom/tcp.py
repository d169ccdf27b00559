"""Socket options for pynetdicom associations."""

from __future__ import annotations

import logging
import socket

from pynetdicom import evt

__all__ = ["set_tcp_nodelay"]

log = logging.getLogger(__name__)


def set_tcp_nodelay(event: evt.Event) -> None:
    """EVT_CONN_OPEN handler: turn Nagle's algorithm off on the association's socket.

    With Nagle on at both ends every PDU waits for the peer's delayed ACK (~40 ms per
    instance); pynetdicom leaves it on, so simcase sets it on every connection, as
    acceptor (listener) and as requestor (sending results).
    """
    sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # not a TCP socket
            log.debug("TCP_NODELAY not set: %s", exc)
