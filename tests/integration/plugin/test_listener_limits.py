"""The listener's limits before authentication: called AE title, idle connections,
ARTIM, PDU size, associations per peer, and what a refused association is logged as."""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from plugin.dicom import DicomListener
from tests.integration.plugin.listener_helpers import CollectingCallback, running_listener

pytestmark = pytest.mark.integration


@pytest.fixture
def listener(database_url: str, tmp_path: Path) -> Iterator[DicomListener]:
    with running_listener(
        database_url,
        tmp_path / "spool",
        CollectingCallback(),
        max_associations=4,
        max_associations_per_peer=16,  # the overall limit is the one met here
        max_pending_connections=3,
        association_timeout_seconds=4.0,
        max_pdu_bytes=64 * 1024,
    ) as running:
        yield running


def _echo(port: int, called: str = "SIMCASE", calling: str = "TESTSCU") -> AE:
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.acse_timeout = 5
    return ae


def _closed_by_peer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_wrong_called_ae_title_is_rejected_and_logged_as_such(
    listener: DicomListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugin.dicom.listener")
    assoc = _echo(listener.port).associate("127.0.0.1", listener.port, ae_title="NOT-SIMCASE")
    assert assoc.is_rejected
    assert assoc.acceptor.primitive is not None
    assert assoc.acceptor.primitive.diagnostic == 0x07  # called AE title not recognised
    assert any(
        "NOT-SIMCASE" in r.getMessage() and "Called AE title not recognised" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    good = _echo(listener.port).associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert good.is_established
    good.release()


def test_idle_connections_cannot_lock_out_a_sender(listener: DicomListener) -> None:
    idle = [socket.create_connection(("127.0.0.1", listener.port)) for _ in range(20)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assoc = _echo(listener.port).associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        assert assoc.is_established, [
            (a.dul.state_machine.current_state, a.is_alive(), a.dul.is_alive(), a._kill)
            for a in listener.ae.active_associations
        ]
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert time.monotonic() - started < 3  # at once, not after the ARTIM timeout (4 s)
        # and every idle one is closed: to make room, or by ARTIM at the latest
        assert all(_closed_by_peer(s, 8) for s in idle)
    finally:
        for s in idle:
            s.close()


def test_a_connection_that_never_associates_is_closed_by_artim(
    listener: DicomListener,
) -> None:
    with socket.create_connection(("127.0.0.1", listener.port)) as idle:
        started = time.monotonic()
        assert _closed_by_peer(idle, 15)
        assert 3.5 < time.monotonic() - started < 9


def test_a_forged_pdu_length_is_refused_before_buffering(
    listener: DicomListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugin.dicom.limits")
    with socket.create_connection(("127.0.0.1", listener.port)) as attacker:
        attacker.sendall(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0))
        try:
            attacker.sendall(b"\x00" * (4 * 1024 * 1024))  # stopped long before 4 GB
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _closed_by_peer(attacker, 5)
    assert any("4294967280 bytes" in r.getMessage() for r in caplog.records)
    assoc = _echo(listener.port).associate("127.0.0.1", listener.port, ae_title="SIMCASE")
    assert assoc.is_established
    assoc.release()


def test_local_limit_is_logged_as_local_limit(
    listener: DicomListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="plugin.dicom.listener")
    held = [
        _echo(listener.port).associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        for _ in range(4)
    ]
    try:
        assert sum(a.is_established for a in held) == 4  # max_associations
        extra = _echo(listener.port).associate("127.0.0.1", listener.port, ae_title="SIMCASE")
        assert extra.is_rejected
        assert extra.acceptor.primitive is not None
        assert extra.acceptor.primitive.diagnostic == 0x02  # local limit exceeded
        messages = [r.getMessage() for r in caplog.records]
        assert any("Local limit exceeded" in m for m in messages), messages
        assert not any("calling AE title" in m.lower() for m in messages)
    finally:
        for a in held:
            a.release()


def _associate_from(port: int, address: str) -> Any:
    """An association to the listener whose calling IP address is ``address`` (any
    127.x.y.z is a local address on Linux)."""
    return _echo(port).associate("127.0.0.1", port, ae_title="SIMCASE", bind_address=(address, 0))


def test_one_peer_cannot_take_every_association(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At most ``max_associations_per_peer`` (2 here) associations from one IP address,
    beside the overall limit (4): the third from a peer is rejected "local limit exceeded"
    (transient) and logged with the peer's address; other peers still associate, up to
    the overall limit; a released association makes room again. Before, one peer could
    hold all of them."""
    caplog.set_level(logging.WARNING, logger="plugin.dicom")
    with running_listener(
        database_url,
        tmp_path / "spool",
        CollectingCallback(),
        max_associations=4,
        max_associations_per_peer=2,
    ) as listener:
        port = listener.port
        held = [_associate_from(port, "127.0.0.1") for _ in range(2)]
        try:
            assert all(a.is_established for a in held)
            greedy = _associate_from(port, "127.0.0.1")
            assert greedy.is_rejected
            rejection = greedy.acceptor.primitive
            assert rejection is not None
            assert (rejection.result, rejection.result_source, rejection.diagnostic) == (
                0x02,  # rejected (transient)
                0x03,  # service provider (presentation related function)
                0x02,  # local limit exceeded
            )
            messages = [r.getMessage() for r in caplog.records]
            assert any(
                "127.0.0.1" in m and "limit per peer 2" in m and "TESTSCU" in m for m in messages
            ), messages
            # other peers are served, up to the overall limit
            others = [_associate_from(port, "127.0.0.2"), _associate_from(port, "127.0.0.3")]
            held += others
            assert all(a.is_established for a in others)
            assert others[0].send_c_echo().Status == 0x0000
            over = _associate_from(port, "127.0.0.4")
            assert over.is_rejected  # the overall limit (4) still holds
            assert not any(
                "127.0.0.4" in r.getMessage() and "per peer" in r.getMessage()
                for r in caplog.records
            )
            # room again for the first peer once one of its associations ends
            held.pop(0).release()
            time.sleep(0.3)
            again = _associate_from(port, "127.0.0.1")
            assert again.is_established
            held.append(again)
        finally:
            for a in held:
                if a.is_established:
                    a.release()


def _connect_from(port: int, address: str) -> socket.socket:
    """A TCP connection to the listener from ``address`` that never associates."""
    return socket.create_connection(("127.0.0.1", port), source_address=(address, 0))


def test_one_peer_cannot_crowd_out_connections_waiting_to_associate(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At most ``max_pending_per_peer`` (2 here) connections from one IP address wait for
    their A-ASSOCIATE-RQ: 20 more from 127.0.0.1 close only its own, never the two other
    peers' (before, each new connection beyond the overall cap of 4 closed the oldest
    waiting, whoever it came from). At the overall cap, the address with the most
    waiting loses its oldest. The crowding address can still associate."""
    caplog.set_level(logging.WARNING, logger="plugin.dicom.limits")
    with running_listener(
        database_url,
        tmp_path / "spool",
        CollectingCallback(),
        max_pending_connections=4,
        max_pending_per_peer=2,
        association_timeout_seconds=20.0,  # no ARTIM expiry during the test
    ) as listener:
        port = listener.port
        slow = [_connect_from(port, "127.0.0.2"), _connect_from(port, "127.0.0.3")]
        time.sleep(0.2)
        crowd = [_connect_from(port, "127.0.0.1") for _ in range(20)]
        try:
            time.sleep(0.5)
            assert all(_closed_by_peer(s, 2) for s in crowd[:18])
            assert not any(_closed_by_peer(s, 0.5) for s in [*slow, *crowd[18:]])
            messages = [r.getMessage() for r in caplog.records]
            assert any("127.0.0.1" in m and "limit per peer 2" in m for m in messages)
            assert not any("127.0.0.2" in m or "127.0.0.3" in m for m in messages), messages
            # the overall cap (4 waiting): a fifth peer closes 127.0.0.1's oldest
            late = _connect_from(port, "127.0.0.4")
            slow.append(late)
            assert _closed_by_peer(crowd[18], 2)
            assert not any(_closed_by_peer(s, 0.5) for s in [*slow, crowd[19]])
            assoc = _associate_from(port, "127.0.0.1")
            assert assoc.is_established
            assert assoc.send_c_echo().Status == 0x0000
            assoc.release()
        finally:
            for s in [*slow, *crowd]:
                s.close()
