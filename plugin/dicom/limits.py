"""What the listener accepts from a connection before anyone is authenticated.

- :class:`LimitedAssociationServer`: at most ``max_pending`` connections may wait for
  their A-ASSOCIATE-RQ at once; a new connection beyond that closes the one that has
  waited longest, so idle sockets can never lock out a sender that associates at once.
  The ARTIM timer (``AE.acse_timeout``) closes a connection that never associates.
- :func:`association_limit`: at most ``max_associations`` established associations, and
  at most ``max_per_peer`` of them from one calling IP address; the next A-ASSOCIATE-RQ
  is rejected ("local limit exceeded"). Connections that never associated do not count.
- :func:`pdu_read_limit`: an ``EVT_CONN_OPEN`` handler that refuses, before reading it,
  any PDU whose header declares more than the limit (the peer is disconnected), so a
  forged length cannot make the listener buffer gigabytes.
"""

from __future__ import annotations

import logging
import socket
import weakref
from collections.abc import Callable
from typing import Any, cast

from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.transport import ThreadedAssociationServer

from plugin.errors import PduTooLargeError

__all__ = [
    "LimitedAssociationServer",
    "association_limit",
    "pdu_read_limit",
]

log = logging.getLogger(__name__)


class LimitedAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server with a cap on connections still waiting to associate.

    Parameters
    ----------
    max_pending
        Connections that have not yet been accepted or rejected as an association.
    """

    def __init__(self, *args: Any, max_pending: int = 4, **kwargs: Any) -> None:
        self.max_pending = max_pending
        self._closing: weakref.WeakSet[Association] = weakref.WeakSet()
        super().__init__(*args, **kwargs)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept a connection; with TLS, wrap it without the handshake (see
        :mod:`plugin.dicom.tls`): pynetdicom's own wrap would run each client's handshake
        here, in the one thread that accepts connections."""
        raw, address = cast(socket.socket, self.socket).accept()
        if self.ssl_context is None:
            return raw, address
        wrapped = self.ssl_context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def verify_request(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: tuple[str, int] | str,
    ) -> bool:
        pending = [
            assoc
            for assoc in self.ae.active_associations
            if assoc.is_acceptor
            and not (assoc.is_established or assoc.is_rejected or assoc.is_aborted)
            # Sta1: accepted, its DUL not started yet; Sta2: awaiting the A-ASSOCIATE-RQ
            and assoc.dul.state_machine.current_state in ("Sta1", "Sta2")
            and assoc not in self._closing
        ]
        for stale in pending[: max(0, len(pending) - self.max_pending + 1)]:
            log.warning(
                "closing a connection from %s that has not associated: too many waiting",
                stale.requestor.address,
            )
            self._closing.add(stale)
            # The DUL thread sees the transport closed (Evt17: back to Sta1); the
            # association thread, waiting for the A-ASSOCIATE-RQ, is woken with "nothing
            # came" and ends. Both in their own threads, as for an ARTIM expiry.
            raw = getattr(stale.dul.socket, "socket", None)
            if isinstance(raw, socket.socket):
                try:
                    raw.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            stale.dul.to_user_queue.put(None)  # type: ignore[arg-type]
        return True


def association_limit(
    max_associations: int, max_per_peer: int | None = None
) -> Callable[[evt.Event], None]:
    """An ``EVT_REQUESTED`` handler: reject the request (A-ASSOCIATE-RJ, transient,
    service provider, local limit exceeded) when ``max_associations`` associations are
    already established, or ``max_per_peer`` from the requestor's IP address.

    pynetdicom's own ``maximum_associations`` counts every accepted connection, idle
    ones included, so it is only a backstop; this counts established associations. The
    per-peer limit keeps one sender (a PACS re-sending everything, a misconfigured
    modality) from taking every association the listener has.
    """

    def on_requested(event: evt.Event) -> None:
        peer = event.assoc.requestor.address
        # the requestor's AE title is set from the request only once it is accepted
        calling = getattr(event.assoc.requestor.primitive, "calling_ae_title", None) or "?"
        established = [
            assoc
            for assoc in event.assoc.ae.active_associations
            if assoc.is_acceptor and assoc.is_established and assoc is not event.assoc
        ]
        from_peer = sum(1 for assoc in established if assoc.requestor.address == peer)
        if max_per_peer is not None and from_peer >= max_per_peer:
            log.warning(
                "association from %s (%s) rejected: %d associations from this address"
                " already (limit per peer %d)",
                calling,
                peer,
                from_peer,
                max_per_peer,
            )
        elif len(established) < max_associations:
            return
        event.assoc.acse.send_reject(0x02, 0x03, 0x02)
        evt.trigger(event.assoc, evt.EVT_REJECTED, {})
        event.assoc.kill()  # as pynetdicom's own rejection: the RJ goes out first

    return on_requested


def pdu_read_limit(max_bytes: int) -> Callable[[evt.Event], None]:
    """An ``EVT_CONN_OPEN`` handler: PDUs declaring more than ``max_bytes`` are refused.

    pynetdicom reads a PDU as a 6-byte header, then as many bytes as the header declares,
    in one ``AssociationSocket.recv`` call; the connection's ``recv`` is wrapped so a
    request over the limit shuts the socket down instead (pynetdicom then ends the
    association as a closed transport).
    """

    def on_open(event: evt.Event) -> None:
        sock = getattr(event.assoc.dul, "socket", None)
        if sock is None:
            return
        read = sock.recv

        def recv(nr_bytes: int) -> bytearray:
            if nr_bytes > max_bytes:
                log.warning(
                    "connection from %s closed: a PDU of %d bytes (limit %d)",
                    event.assoc.requestor.address,
                    nr_bytes,
                    max_bytes,
                )
                raw = getattr(sock, "socket", None)
                if isinstance(raw, socket.socket):
                    try:
                        raw.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                raise PduTooLargeError(f"PDU of {nr_bytes} bytes exceeds {max_bytes}")
            data: bytearray = read(nr_bytes)
            return data

        sock.recv = recv

    return on_open
