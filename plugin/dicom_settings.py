"""Settings of the DICOM listener (``SIMCASE_DICOM__*``), TLS included.

Re-exported by :mod:`plugin.settings`, where :class:`~plugin.settings.Settings` nests
them as ``dicom`` (``SIMCASE_DICOM__PORT``, ``SIMCASE_DICOM__TLS__CERT_FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

__all__ = ["DicomSettings", "DicomTlsSettings"]


class DicomTlsSettings(BaseModel):
    """DICOM over TLS (PS3.15 B.1, the "secure transport connection" profile): off
    unless ``cert_file`` and ``key_file`` are set; then every connection to the listener
    must speak TLS (1.2 or later), and plain TCP is refused."""

    #: The listener's certificate (PEM), with its chain if any.
    cert_file: Path | None = None
    #: The certificate's private key (PEM, unencrypted).
    key_file: Path | None = None
    #: CA certificates (PEM) that client certificates are checked against.
    ca_file: Path | None = None
    #: Refuse senders without a client certificate signed by ``ca_file``.
    require_client_cert: bool = False

    @model_validator(mode="after")
    def _complete(self) -> DicomTlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("DICOM TLS needs cert_file and key_file together")
        if self.require_client_cert and self.ca_file is None:
            raise ValueError("require_client_cert needs ca_file (the CA of the senders)")
        if self.ca_file is not None and self.cert_file is None:
            raise ValueError("ca_file is set but TLS is off: set cert_file and key_file")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class DicomSettings(BaseModel):
    """The DICOM listener (``simcase listen``)."""

    ae_title: str = Field("SIMCASE", min_length=1, max_length=16)
    #: Address the listener binds: ``0.0.0.0`` (default) for all IPv4 interfaces, or one
    #: address such as ``127.0.0.1`` to accept only local senders.
    host: str = Field("0.0.0.0", min_length=1, max_length=255)
    port: int = Field(11112, ge=1, le=65535)
    allowed_aes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    debounce_seconds: float = Field(2.0, ge=0)
    stable_seconds: float = Field(30.0, gt=0)
    #: Associations at once (beyond it: A-ASSOCIATE-RJ "local limit exceeded").
    max_associations: int = Field(16, ge=1, le=1000)
    #: Associations at once from one calling IP address (beyond it: A-ASSOCIATE-RJ "local
    #: limit exceeded", logged with the address), so one sender cannot take them all.
    max_associations_per_peer: int = Field(4, ge=1, le=1000)
    #: Connections waiting for their A-ASSOCIATE-RQ at once; one more closes the oldest.
    max_pending_connections: int = Field(8, ge=1, le=1000)
    #: Of those, at most this many from one IP address: one more from it closes its own
    #: oldest, and when the overall cap is met the address with the most waiting loses
    #: its oldest, so one peer cannot crowd the others out. Unset: as many as the
    #: associations a peer may hold (``max_associations_per_peer``), which a sender may
    #: open at once (a lower cap closed the connections of a legitimate burst).
    max_pending_per_peer: int | None = Field(None, ge=1, le=1000)
    #: ARTIM: a connection that has not associated after this long is closed.
    association_timeout_seconds: float = Field(10.0, gt=0, le=300)
    #: Largest PDU the listener receives (its Maximum Length Receive); a PDU header
    #: declaring more is refused before anything is buffered.
    max_pdu_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    #: Free space (MiB) the spool's file system must keep: an instance that would leave
    #: less is refused with 0xA700 "out of resources" before anything is written (0: no
    #: check).
    min_free_mb: int = Field(1024, ge=0, le=1024**3)
    #: DICOM TLS (off by default): ``SIMCASE_DICOM__TLS__CERT_FILE`` and so on.
    tls: DicomTlsSettings = Field(default_factory=DicomTlsSettings)

    @field_validator("allowed_aes", mode="before")
    @classmethod
    def _split_aes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [ae.strip() for ae in value.split(",") if ae.strip()]
        return value

    @property
    def pending_per_peer(self) -> int:
        """Connections one IP address may have waiting for their A-ASSOCIATE-RQ."""
        if self.max_pending_per_peer is not None:
            return self.max_pending_per_peer
        return self.max_associations_per_peer

    @property
    def pending_connections(self) -> int:
        """Connections that may wait for their A-ASSOCIATE-RQ at once: never fewer than
        one peer may have waiting."""
        return max(self.max_pending_connections, self.pending_per_peer)
