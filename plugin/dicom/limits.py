"""What the listener accepts from a connection before anyone is authenticated.

- :class:`LimitedAssociationServer`: at most ``max_pending`` connections may wait for
  their A-ASSOCIATE-RQ at once, and ``max_pending_per_peer`` from one IP address; a new
  connection beyond its address's cap closes that address's oldest, one beyond the
  overall cap the oldest of the address with the most waiting, so idle sockets can never lock
  out a sender that associates at once, and one peer cannot crowd the others out.
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
from collections import Counter
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
    """pynetdicom's threaded server with caps on connections still waiting to associate.

    Parameters
    ----------
    max_pending
        Connections that have not yet been accepted or rejected as an association; one
        more closes a waiting one: the oldest of the address with the most waiting.
    max_pending_per_peer
        Of those, from one IP address; one more from it closes its own oldest (nobody
        else's), so one peer cannot crowd the others out.
    """

    def __init__(
        self, *args: Any, max_pending: int = 8, max_pending_per_peer: int = 4, **kwargs: Any
    ) -> None:
        self.max_pending = max_pending
        self.max_pending_per_peer = max_pending_per_peer
        # accepted connections not yet associated, oldest first, with their address: the
        # association of each is created later, in its own thread
        self._waiting: dict[socket.socket, str] = {}
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

    def _associations(self) -> dict[int, Association]:
        """This server's associations by the id of their connection's socket."""
        out: dict[int, Association] = {}
        for assoc in self.ae.active_associations:
            sock = getattr(assoc.dul.socket, "socket", None)
            if assoc.is_acceptor and sock is not None:
                out[id(sock)] = assoc
        return out

    def _prune(self) -> dict[int, Association]:
        """Forget the connections that have associated (or been rejected) or closed."""
        associations = self._associations()
        for sock in list(self._waiting):
            assoc = associations.get(id(sock))
            waiting = assoc is None or (
                not (assoc.is_established or assoc.is_rejected or assoc.is_aborted)
                # Sta1: its DUL not started yet; Sta2: awaiting the A-ASSOCIATE-RQ
                and assoc.dul.state_machine.current_state in ("Sta1", "Sta2")
            )
            if sock.fileno() == -1 or not waiting:
                del self._waiting[sock]
        return associations

    def verify_request(
        self,
        request: socket.socket | tuple[bytes, socket.socket],
        client_address: tuple[str, int] | str,
    ) -> bool:
        peer = client_address[0] if isinstance(client_address, tuple) else client_address
        associations = self._prune()
        from_peer = [sock for sock, address in self._waiting.items() if address == peer]
        for stale in from_peer[: max(0, len(from_peer) - self.max_pending_per_peer + 1)]:
            log.warning(
                "closing a connection from %s that has not associated: %d from this"
                " address waiting (limit per peer %d)",
                peer,
                len(from_peer),
                self.max_pending_per_peer,
            )
            self._close(stale, associations.get(id(stale)))
        while len(self._waiting) >= self.max_pending:
            stale = _most_waiting(self._waiting)
            log.warning(
                "closing a connection from %s that has not associated: too many waiting",
                self._waiting[stale],
            )
            self._close(stale, associations.get(id(stale)))
        if isinstance(request, socket.socket):
            self._waiting[request] = peer
        return True

    def _close(self, stale: socket.socket, assoc: Association | None) -> None:
        del self._waiting[stale]
        # The DUL thread sees the transport closed (Evt17: back to Sta1); the association
        # thread, waiting for the A-ASSOCIATE-RQ, is woken with "nothing came" and ends
        # (or, not started yet, ends at ARTIM). Both in their own threads.
        try:
            stale.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if assoc is not None:
            assoc.dul.to_user_queue.put(None)  # type: ignore[arg-type]


def _most_waiting(waiting: dict[socket.socket, str]) -> socket.socket:
    """The oldest waiting connection of the address that has the most waiting."""
    counts = Counter(waiting.values())
    most = max(counts.values())
    return next(sock for sock, address in waiting.items() if counts[address] == most)


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
