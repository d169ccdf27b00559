"""DICOM TLS on the listener, with self-made certificates and real pynetdicom senders."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydicom import dcmread
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import MRImageStorage, Verification  # type: ignore[attr-defined]

from plugin.dicom import DicomListener
from plugin.dicom.tls import server_ssl_context
from plugin.errors import ListenerError
from plugin.settings import DicomTlsSettings
from tests.integration.plugin.listener_helpers import CollectingCallback, running_listener
from tests.integration.plugin.tls_certificates import (
    Certificates,
    client_context,
    make_certificates,
)
from tests.unit.plugin.samples import mr_series

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def tls_listener(
    database_url: str, tmp_path: Path, certificates: Certificates, *, require_client_cert: bool
) -> Iterator[DicomListener]:
    tls = DicomTlsSettings(
        cert_file=certificates.server_cert,
        key_file=certificates.server_key,
        ca_file=certificates.ca,
        require_client_cert=require_client_cert,
    )
    with running_listener(
        database_url, tmp_path / "spool", CollectingCallback(), tls=tls
    ) as listener:
        yield listener


@pytest.fixture
def listener(
    database_url: str, tmp_path: Path, certificates: Certificates
) -> Iterator[DicomListener]:
    yield from tls_listener(database_url, tmp_path, certificates, require_client_cert=False)


@pytest.fixture
def strict_listener(
    database_url: str, tmp_path: Path, certificates: Certificates
) -> Iterator[DicomListener]:
    yield from tls_listener(database_url, tmp_path, certificates, require_client_cert=True)


def associate(port: int, context: ssl.SSLContext | None) -> Association:
    ae = AE(ae_title="TESTSCU")
    ae.acse_timeout = 5
    ae.network_timeout = 5
    ae.add_requested_context(Verification)
    ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
    tls_args = None if context is None else (context, "localhost")
    return ae.associate("127.0.0.1", port, ae_title="SIMCASE", tls_args=tls_args)


def test_a_tls_c_store_is_stored_and_plain_tcp_is_refused(
    listener: DicomListener, certificates: Certificates, database_url: str
) -> None:
    series = mr_series(3)
    assoc = associate(listener.port, client_context(certificates.ca))
    assert assoc.is_established
    assert isinstance(assoc.dul.socket.socket, ssl.SSLSocket)  # type: ignore[union-attr]
    assert [assoc.send_c_store(ds).Status for ds in series] == [0, 0, 0]
    assoc.release()
    assert listener.recorder.flush()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT sop_instance_uid, path FROM received_instances WHERE study_instance_uid = %s",
            (series[0].StudyInstanceUID,),
        ).fetchall()
    assert {r[0] for r in rows} == {ds.SOPInstanceUID for ds in series}
    for sop_uid, path in rows:
        assert dcmread(path).SOPInstanceUID == sop_uid

    plain = associate(listener.port, None)
    assert not plain.is_established
    # and TLS senders are still served afterwards
    again = associate(listener.port, client_context(certificates.ca))
    assert again.is_established
    assert again.send_c_echo().Status == 0x0000
    again.release()


def test_a_silent_connection_does_not_stall_tls_senders(
    listener: DicomListener, certificates: Certificates
) -> None:
    """The handshake runs in the connection's thread, not in the accept loop: a TCP
    connection that never says a word does not hold up the next sender."""
    with socket.create_connection(("127.0.0.1", listener.port)) as silent:
        time.sleep(0.2)
        started = time.monotonic()
        assoc = associate(listener.port, client_context(certificates.ca))
        assert assoc.is_established
        assert time.monotonic() - started < 3.0
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        silent.settimeout(15)
        assert silent.recv(1) == b""  # closed by the ARTIM timer or the handshake


def test_client_certificate_required(
    strict_listener: DicomListener, certificates: Certificates
) -> None:
    port = strict_listener.port
    without = associate(port, client_context(certificates.ca))
    assert not without.is_established
    stranger = associate(
        port,
        client_context(certificates.ca, certificates.stranger_cert, certificates.stranger_key),
    )
    assert not stranger.is_established
    known = associate(
        port, client_context(certificates.ca, certificates.client_cert, certificates.client_key)
    )
    assert known.is_established
    assert known.send_c_store(mr_series(1)[0]).Status == 0x0000
    known.release()


def test_unreadable_certificate_is_a_listener_error(
    tmp_path: Path, certificates: Certificates
) -> None:
    missing = DicomTlsSettings(cert_file=tmp_path / "none.pem", key_file=certificates.server_key)
    with pytest.raises(ListenerError, match="cannot load the DICOM TLS certificate"):
        server_ssl_context(missing)
    wrong_key = DicomTlsSettings(
        cert_file=certificates.server_cert, key_file=certificates.client_key
    )
    with pytest.raises(ListenerError):
        server_ssl_context(wrong_key)
    assert server_ssl_context(DicomTlsSettings()) is None
