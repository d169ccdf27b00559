"""Sending result objects back to the PACS: C-STORE (pynetdicom) or STOW-RS.

Both senders retry with exponential backoff and raise :class:`SendError` naming the
destination when every attempt failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt

from plugin.dicom.tcp import set_tcp_nodelay
from plugin.errors import SendError
from plugin.metrics.instruments import record_send
from plugin.settings import ResultsSettings

__all__ = [
    "CStoreSender",
    "ResultSender",
    "SendReport",
    "StowSender",
    "sender_from_settings",
]

log = logging.getLogger(__name__)

#: C-STORE statuses that mean "stored" (success and the standard warnings).
_STORED = {0x0000, 0x0001, 0x0107, 0x0116, 0xB000, 0xB006, 0xB007}


@dataclass(frozen=True)
class SendReport:
    """What was delivered where, after how many attempts."""

    destination: str
    sop_instance_uids: tuple[str, ...]
    attempts: int


@runtime_checkable
class ResultSender(Protocol):
    """Delivers result objects to the PACS."""

    @property
    def destination(self) -> str:
        """Where results go, in words (for logs and the results table)."""
        ...

    def send(self, datasets: Sequence[Dataset]) -> SendReport:
        """Deliver all ``datasets``, retrying; raise :class:`SendError` on failure."""
        ...


def _retry(
    what: str,
    attempt_once: Callable[[list[Dataset]], list[Dataset]],
    datasets: Sequence[Dataset],
    *,
    attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None],
) -> int:
    """Call ``attempt_once`` with the datasets still undelivered until none is left."""
    pending = list(datasets)
    last_error = "nothing sent"
    for attempt in range(1, attempts + 1):
        try:
            pending = attempt_once(pending)
            last_error = f"{len(pending)} instance(s) refused"
        except Exception as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if not pending:
            record_send(attempt, delivered=True)
            return attempt
        if attempt < attempts:
            delay = backoff_seconds * 2 ** (attempt - 1)
            log.warning(
                "sending to %s failed (attempt %d of %d: %s); retrying in %.1f s",
                what,
                attempt,
                attempts,
                last_error,
                delay,
            )
            sleep(delay)
    record_send(attempts, delivered=False)
    raise SendError(f"could not send {len(pending)} result object(s) to {what}: {last_error}")


class _RetryingSender:
    """``send`` for senders that deliver with ``_attempt`` and retry with backoff."""

    attempts: int
    backoff_seconds: float
    _sleep: Callable[[float], None]

    @property
    def destination(self) -> str:
        raise NotImplementedError

    def _attempt(self, datasets: list[Dataset]) -> list[Dataset]:
        raise NotImplementedError

    def send(self, datasets: Sequence[Dataset]) -> SendReport:
        attempts = _retry(
            self.destination,
            self._attempt,
            datasets,
            attempts=self.attempts,
            backoff_seconds=self.backoff_seconds,
            sleep=self._sleep,
        )
        return SendReport(
            self.destination, tuple(str(ds.SOPInstanceUID) for ds in datasets), attempts
        )


class CStoreSender(_RetryingSender):
    """C-STORE to a DICOM AE (e.g. Orthanc's DICOM port)."""

    def __init__(
        self,
        ae_title: str,
        host: str,
        port: int,
        *,
        calling_ae_title: str = "SIMCASE",
        attempts: int = 4,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ae_title = ae_title
        self.host = host
        self.port = port
        self.calling_ae_title = calling_ae_title
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._sleep = sleep

    @property
    def destination(self) -> str:
        return f"dicom://{self.ae_title}@{self.host}:{self.port}"

    def _attempt(self, datasets: list[Dataset]) -> list[Dataset]:
        ae = AE(ae_title=self.calling_ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.timeout_seconds
        for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
            ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        assoc = ae.associate(
            self.host,
            self.port,
            ae_title=self.ae_title,
            evt_handlers=[(evt.EVT_CONN_OPEN, set_tcp_nodelay)],
        )
        if not assoc.is_established:
            raise ConnectionError(f"association with {self.destination} not established")
        refused: list[Dataset] = []
        try:
            for ds in datasets:
                status = assoc.send_c_store(ds)
                code = int(status.get("Status", -1)) if status else -1
                if code not in _STORED:
                    log.warning(
                        "C-STORE refused with status %#06x",
                        code,
                        extra={"sop_uid": str(ds.SOPInstanceUID)},
                    )
                    refused.append(ds)
        finally:
            if assoc.is_established:
                assoc.release()
        return refused


class StowSender(_RetryingSender):
    """STOW-RS to a DICOMweb service (e.g. ``http://127.0.0.1:8042/dicom-web``)."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 4,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 30,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._session = session or requests.Session()
        self._sleep = sleep

    @property
    def destination(self) -> str:
        return self.url

    def _attempt(self, datasets: list[Dataset]) -> list[Dataset]:
        client = DICOMwebClient(url=self.url, session=self._session)
        client.set_http_retry_params(retry=False)
        response = client.store_instances(datasets)
        failed = {
            str(item.ReferencedSOPInstanceUID)
            for item in response.get("FailedSOPSequence", [])
            if "ReferencedSOPInstanceUID" in item
        }
        return [ds for ds in datasets if str(ds.SOPInstanceUID) in failed]


def sender_from_settings(
    settings: ResultsSettings, *, calling_ae_title: str = "SIMCASE"
) -> ResultSender | None:
    """The sender the settings describe, or ``None`` when no destination is configured."""
    if settings.stow_url:
        return StowSender(settings.stow_url)
    if settings.host is not None and settings.ae_title and settings.port is not None:
        return CStoreSender(
            settings.ae_title, settings.host, settings.port, calling_ae_title=calling_ae_title
        )
    return None
