"""DICOM over TLS for the listener: the server's :class:`ssl.SSLContext`.

The handshake is not done where pynetdicom accepts connections (its accept loop would
wait on each client's handshake, so one silent connection would stall every other):
:class:`plugin.dicom.limits.LimitedAssociationServer` wraps the accepted socket without
a handshake, and OpenSSL runs it on the connection's first read, in that connection's
own thread, under the ARTIM timer and the cap on connections waiting to associate.
"""

from __future__ import annotations

import ssl

from plugin.dicom_settings import DicomTlsSettings
from plugin.errors import ListenerError

__all__ = ["server_ssl_context"]


def server_ssl_context(tls: DicomTlsSettings) -> ssl.SSLContext | None:
    """The listener's TLS context (TLS 1.2 or later), or ``None`` when TLS is off.

    Raises
    ------
    ListenerError
        When the certificate, key or CA file cannot be read or do not match.
    """
    if tls.cert_file is None or tls.key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=tls.cert_file, keyfile=tls.key_file)
        if tls.ca_file is not None:
            context.load_verify_locations(cafile=tls.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ListenerError(f"cannot load the DICOM TLS certificate or key: {exc}") from exc
    # CERT_OPTIONAL checks a client certificate when one is sent (against ca_file)
    context.verify_mode = (
        ssl.CERT_REQUIRED
        if tls.require_client_cert
        else ssl.CERT_OPTIONAL
        if tls.ca_file is not None
        else ssl.CERT_NONE
    )
    return context
