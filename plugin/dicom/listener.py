"""simcase's DICOM listener: a pynetdicom SCP for C-ECHO and C-STORE.

Every instance is spooled (fsynced) before the success status goes back, and journalled
in the database in batches right after (:mod:`plugin.dicom.recorder`); at start-up the
spool is scanned for instances without a journal row (a crash between the two), which
are journalled and their studies completed. Instances of any storage SOP class are kept
unless they can never be used (refused with 0xC210 and a reason: see
:mod:`plugin.dicom.instance_checks`), and none is written while the spool's file
system is short of ``min_free_mb`` (refused with 0xA700). A study is handed on
(``on_study_complete``) once its sender has finished (see
:mod:`plugin.dicom.study_tracker`), after its rows are committed.

The C-STORE handler is :mod:`plugin.dicom.store_handler`, the start-up scan
:mod:`plugin.dicom.recovery`, the limits before authentication
:mod:`plugin.dicom.limits`, and the optional TLS :mod:`plugin.dicom.tls`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from indexer.jobs import readable_error
from plugin.dicom.journal import InstanceJournal
from plugin.dicom.limits import (
    LimitedAssociationServer,
    association_limit,
    pdu_read_limit,
)
from plugin.dicom.recorder import JournalRecorder
from plugin.dicom.recovery import recover_spool
from plugin.dicom.spool import Spool
from plugin.dicom.store_handler import (
    STATUS_CANNOT_UNDERSTAND,
    STATUS_OUT_OF_RESOURCES,
    StoreHandler,
)
from plugin.dicom.study_tracker import StudyTracker
from plugin.dicom.tcp import set_fast_polling, set_tcp_nodelay
from plugin.dicom.tls import server_ssl_context
from plugin.errors import ListenerError
from plugin.settings import DicomSettings

__all__ = [
    "STATUS_CANNOT_UNDERSTAND",
    "STATUS_OUT_OF_RESOURCES",
    "DicomListener",
]

log = logging.getLogger(__name__)


class DicomListener:
    """The SCP: C-ECHO, C-STORE of every storage SOP class, study-complete callbacks.

    Parameters
    ----------
    settings
        AE title, port, allowed calling AE titles (empty: any), debounce and timeout.
    spool_dir
        Root of the spool.
    journal
        Where received instances and completed studies are recorded.
    on_study_complete
        Called once per quiet period of a study with its StudyInstanceUID.
    host
        Overrides ``settings.host``, the address to bind (``0.0.0.0``: all interfaces).
    port
        Overrides ``settings.port`` (``0``: any free port; see :attr:`port`).
    """

    def __init__(
        self,
        settings: DicomSettings,
        spool_dir: Path,
        journal: InstanceJournal,
        on_study_complete: Callable[[str], None],
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.settings = settings
        self.spool = Spool(spool_dir)
        self.journal = journal
        self.recorder = JournalRecorder(journal)
        self._on_study_complete = on_study_complete
        self.tracker = StudyTracker(
            self._study_complete,
            debounce_seconds=settings.debounce_seconds,
            stable_seconds=settings.stable_seconds,
        )
        self.store_handler = StoreHandler(
            self.spool, self.recorder, self.tracker, settings.min_free_mb
        )
        self._host = settings.host if host is None else host
        self._port = settings.port if port is None else port
        self._server: ThreadedAssociationServer | None = None
        self.ae = self._make_ae()

    def _make_ae(self) -> AE:
        ae = AE(ae_title=self.settings.ae_title)
        # pynetdicom counts every connection, idle ones included: only a backstop here.
        # Established associations are limited by `association_limit`, connections
        # waiting to associate by LimitedAssociationServer and the ARTIM timeout.
        ae.maximum_associations = (
            self.settings.max_associations + self.settings.pending_connections + 64
        )
        ae.network_timeout = 60
        ae.acse_timeout = self.settings.association_timeout_seconds  # ARTIM
        ae.dimse_timeout = 60
        ae.maximum_pdu_size = self.settings.max_pdu_bytes
        ae.require_called_aet = True  # A-ASSOCIATE-RJ (reason 7) for another called AE
        ae.add_supported_context(Verification)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        if self.settings.allowed_aes:
            # The association is rejected (A-ASSOCIATE-RJ, reason 3: calling AE title
            # not recognised) for any other caller.
            ae.require_calling_aet = list(self.settings.allowed_aes)
        return ae

    @property
    def host(self) -> str:
        """The address the listener is bound to (``0.0.0.0``: all interfaces)."""
        if self._server is None:
            return self._host
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The TCP port the listener is bound to."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def running(self) -> bool:
        """Whether the server is accepting associations."""
        return self._server is not None

    def start(self) -> None:
        """Start listening (non-blocking) and the study-complete timer."""
        if self._server is not None:
            return
        handlers: list[Any] = [
            # the PDU header limit: the PDU itself, plus room for its items' headers
            (evt.EVT_CONN_OPEN, pdu_read_limit(self.settings.max_pdu_bytes + 64 * 1024)),
            (
                evt.EVT_REQUESTED,
                association_limit(
                    self.settings.max_associations, self.settings.max_associations_per_peer
                ),
            ),
            (evt.EVT_CONN_OPEN, set_tcp_nodelay),
            (evt.EVT_CONN_OPEN, set_fast_polling),
            (evt.EVT_C_STORE, self.store_handler),
            (evt.EVT_C_ECHO, self._handle_echo),
            (evt.EVT_RELEASED, self._handle_ended),
            (evt.EVT_ABORTED, self._handle_ended),
            (evt.EVT_CONN_CLOSE, self._handle_ended),
            (evt.EVT_REJECTED, self._handle_rejected),
        ]
        try:
            server = self.ae.make_server(
                (self._host, self._port),
                evt_handlers=handlers,
                server_class=LimitedAssociationServer,
                ssl_context=server_ssl_context(self.settings.tls),
                max_pending=self.settings.pending_connections,
                max_pending_per_peer=self.settings.pending_per_peer,
            )
        except OSError as exc:
            raise ListenerError(f"cannot listen on {self._host}:{self._port}: {exc}") from exc
        self.ae._servers.append(server)  # as AE.start_server does; removed by shutdown()
        threading.Thread(target=server.serve_forever, name="dicom-listener", daemon=True).start()
        self._server = server
        recovered = self.recover()
        for study_instance_uid in sorted(set(self.journal.pending()) | recovered):
            log.info(
                "study pending from an earlier run: complete in %s s unless more arrives",
                self.settings.stable_seconds,
                extra={"study_uid": study_instance_uid},
            )
            self.tracker.mark_pending(study_instance_uid)
        self.recorder.start()
        self.tracker.start()
        log.info(
            "DICOM listener %s on %s:%s%s (allowed callers: %s)",
            self.settings.ae_title,
            self._host,
            self.port,
            self._tls_mode(),
            ", ".join(self.settings.allowed_aes) or "any",
        )

    def _tls_mode(self) -> str:
        tls = self.settings.tls
        if not tls.enabled:
            return ""
        return ", TLS" + (" with client certificates" if tls.require_client_cert else "")

    def stop(self) -> None:
        """Stop accepting associations, end the active ones and stop the timer."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        self.recorder.stop()
        self.spool.sync_directories()
        self.tracker.stop()

    def __enter__(self) -> DicomListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def recover(self) -> set[str]:
        """Journal the spooled instances that have no row (acknowledged, then a crash
        before their batch was committed); remove unreadable files (writes interrupted
        before the acknowledgement). Returns the studies found."""
        return recover_spool(self.spool, self.journal)

    # -- handlers ---------------------------------------------------------------
    def _study_complete(self, study_instance_uid: str) -> None:
        """Hand a complete study on once its rows are committed; while the database
        cannot take them (or the hand-over fails), try again after ``stable_seconds``."""
        extra = {"study_uid": study_instance_uid}
        try:
            if not self.recorder.flush(timeout=self.settings.stable_seconds):
                raise ListenerError(f"{self.recorder.backlog} journal rows not written yet")
            self.journal.study_completed(study_instance_uid)
            self._on_study_complete(study_instance_uid)
        except Exception as exc:
            log.error(
                "study complete but not handed on (%s); trying again in %s s",
                readable_error(exc, 200),
                self.settings.stable_seconds,
                extra=extra,
            )
            self.tracker.mark_pending(study_instance_uid)

    def _handle_echo(self, event: evt.Event) -> int:
        log.debug("C-ECHO from %s", event.assoc.requestor.ae_title)
        return 0x0000

    def _handle_rejected(self, event: evt.Event) -> None:
        primitive = event.assoc.acceptor.primitive
        try:
            reason = str(primitive.reason_str) if primitive is not None else "no reason given"
        except Exception:
            reason = "no reason given"
        requested = event.assoc.requestor.primitive
        log.warning(
            "association from %s (%s) to %s rejected: %s",
            getattr(requested, "calling_ae_title", None) or event.assoc.requestor.ae_title,
            event.assoc.requestor.address,
            getattr(event.assoc.requestor.primitive, "called_ae_title", "?"),
            reason,
        )

    def _handle_ended(self, event: evt.Event) -> None:
        self.recorder.flush()
        self.spool.sync_directories()
        self.tracker.association_ended(id(event.assoc))
