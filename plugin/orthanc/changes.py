"""Follow Orthanc's ``/changes`` feed: simcase learns of stable studies without any code
inside Orthanc (its Python plugin is AGPL; the REST API keeps simcase's licence free).

Each ``StableStudy`` change passes the loop guard (:mod:`plugin.orthanc.loop_guard`);
a study to route is marked (``SimcaseRouted`` metadata) and handed to ``on_study``.
The last sequence number handled is saved, so a restart resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from psycopg_pool import ConnectionPool

from indexer.intake import feed_position, save_feed_position
from plugin.errors import OrthancFeedError
from plugin.orthanc.config import ROUTED_METADATA
from plugin.orthanc.loop_guard import SeriesInfo, decide, format_routed, parse_routed

__all__ = [
    "ChangesFollower",
    "FeedPosition",
    "FilePosition",
    "PostgresPosition",
    "StableStudy",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StableStudy:
    """A study Orthanc declared stable and the loop guard let through."""

    orthanc_id: str
    study_instance_uid: str
    series_ids: tuple[str, ...]
    seq: int


class FeedPosition(Protocol):
    """Where the last handled change sequence number is kept."""

    def load(self) -> int | None:
        """The saved sequence number, or ``None`` before the first save."""
        ...

    def save(self, seq: int) -> None:
        """Persist ``seq``."""
        ...


class FilePosition:
    """The position in a small JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> int | None:
        try:
            return int(json.loads(self.path.read_text())["last_seq"])
        except FileNotFoundError:
            return None

    def save(self, seq: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"last_seq": seq}))
        tmp.replace(self.path)


class PostgresPosition:
    """The position in the database (table ``feed_positions``)."""

    def __init__(self, pool: ConnectionPool[Any], feed: str) -> None:
        self._pool = pool
        self.feed = feed

    def load(self) -> int | None:
        with self._pool.connection() as conn:
            return feed_position(conn, self.feed)

    def save(self, seq: int) -> None:
        with self._pool.connection() as conn:
            save_feed_position(conn, self.feed, seq)


class ChangesFollower:
    """Polls ``GET /changes`` and hands stable, new, MR studies to ``on_study``.

    Parameters
    ----------
    orthanc_url
        Orthanc's REST root, e.g. ``http://127.0.0.1:8042``.
    position
        Where the last handled sequence number is kept.
    on_study
        Called once per study to route (e.g. enqueue the pull-path job). If it raises,
        the change is retried on the next poll (at most ``max_failures`` times).
    start_at_end
        With no saved position, skip the feed's history (only studies that become
        stable from now on), instead of starting from the first change.
    """

    def __init__(
        self,
        orthanc_url: str,
        position: FeedPosition,
        on_study: Callable[[StableStudy], None],
        *,
        client: httpx.Client | None = None,
        poll_seconds: float = 1.0,
        batch: int = 100,
        start_at_end: bool = True,
        max_failures: int = 3,
    ) -> None:
        self._client = client or httpx.Client(base_url=orthanc_url.rstrip("/"), timeout=30)
        self._position = position
        self._on_study = on_study
        self.poll_seconds = poll_seconds
        self._batch = batch
        self._start_at_end = start_at_end
        self._max_failures = max_failures
        self._failures: dict[int, int] = {}
        self._since: int | None = None

    # -- REST -------------------------------------------------------------------
    def _get(self, path: str, **params: Any) -> Any:
        response = self._client.get(path, params=params)
        if response.status_code != 200:
            raise OrthancFeedError(f"GET {path} answered {response.status_code}")
        return response.json()

    def _routed(self, study_id: str) -> set[str]:
        response = self._client.get(f"/studies/{study_id}/metadata/{ROUTED_METADATA}")
        if response.status_code == 404:
            return set()
        if response.status_code != 200:
            raise OrthancFeedError(
                f"reading {ROUTED_METADATA} of study {study_id} answered {response.status_code}"
            )
        return parse_routed(response.text)

    def _mark(self, study_id: str, series_ids: tuple[str, ...]) -> None:
        response = self._client.put(
            f"/studies/{study_id}/metadata/{ROUTED_METADATA}", content=format_routed(series_ids)
        )
        if response.status_code != 200:
            raise OrthancFeedError(f"marking study {study_id} answered {response.status_code}")

    # -- feed -------------------------------------------------------------------
    def _start(self) -> int:
        saved = self._position.load()
        if saved is not None:
            return saved
        if not self._start_at_end:
            return 0
        last = int(self._get("/changes", last="")["Last"])
        self._position.save(last)
        log.info("following Orthanc changes from seq %d (history skipped)", last)
        return last

    def _handle(self, change: dict[str, Any]) -> StableStudy | None:
        study_id = str(change["ID"])
        try:
            study = self._get(f"/studies/{study_id}")
        except OrthancFeedError:
            log.info("stable study %s is gone from Orthanc", study_id)
            return None
        series = [
            SeriesInfo(
                series_id=str(s["ID"]),
                modality=str(s.get("MainDicomTags", {}).get("Modality", "")),
                manufacturer=str(s.get("MainDicomTags", {}).get("Manufacturer", "")),
            )
            for s in self._get(f"/studies/{study_id}/series")
        ]
        study_instance_uid = str(study.get("MainDicomTags", {}).get("StudyInstanceUID", ""))
        decision = decide(series, self._routed(study_id))
        if not decision.route:
            log.info(
                "stable study not routed: %s",
                decision.reason,
                extra={"study_uid": study_instance_uid},
            )
            return None
        found = StableStudy(study_id, study_instance_uid, decision.series_ids, int(change["Seq"]))
        self._on_study(found)
        self._mark(study_id, decision.series_ids)
        log.info("stable study routed", extra={"study_uid": study_instance_uid})
        return found

    def poll_once(self) -> list[StableStudy]:
        """Handle every change available now; return the studies routed."""
        if self._since is None:
            self._since = self._start()
        routed: list[StableStudy] = []
        while True:
            page = self._get("/changes", since=self._since, limit=self._batch)
            last = int(page.get("Last", self._since))
            if last < self._since:
                # Orthanc's feed went back: its database was replaced or reset. Waiting
                # for it to pass the old number would route nothing for days.
                log.warning(
                    "Orthanc's change feed went back from seq %d to %d (new Orthanc "
                    "database?); following from %d",
                    self._since,
                    last,
                    last,
                )
                self._since = last
                self._position.save(last)
                self._failures.clear()
                return routed
            for change in page.get("Changes", []):
                seq = int(change["Seq"])
                if change.get("ChangeType") == "StableStudy":
                    try:
                        found = self._handle(change)
                    except Exception as exc:
                        failures = self._failures.get(seq, 0) + 1
                        self._failures[seq] = failures
                        if failures < self._max_failures:
                            log.warning("change %d failed (%s); will retry", seq, exc)
                            return routed
                        log.error("change %d skipped after %d failures: %s", seq, failures, exc)
                        found = None
                    if found is not None:
                        routed.append(found)
                    self._failures.pop(seq, None)
                self._since = seq
                self._position.save(seq)
            if last > self._since:
                self._since = last
                self._position.save(last)
            if page.get("Done", True):
                return routed

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; errors are logged and polling goes on."""
        while not stop.is_set():
            try:
                self.poll_once()
            except (httpx.HTTPError, OrthancFeedError) as exc:
                log.warning("polling Orthanc changes failed: %s", exc)
            stop.wait(self.poll_seconds)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
