"""Study-complete detection: when has a sender finished sending a study?

A study is complete when

* every association that brought instances of it has ended (released, aborted or the
  connection closed) and no instance arrived for ``debounce_seconds`` since then, or
* no instance arrived for ``stable_seconds`` (senders that keep associations open).

A study found pending at start-up (:meth:`StudyTracker.mark_pending`: received before a
crash or a stop, never declared complete) waits ``stable_seconds``: its sender may have
been cut off mid-study and send it again. A resend within that time joins it, and the
study is complete after the resend, so the part received before the crash is never
answered on its own. Without a resend it is complete after ``stable_seconds`` (nothing
acknowledged is left unprocessed).

The callback then fires once for that quiet period; a later instance of the same study
starts a new period and fires it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from plugin.dicom.worker_thread import ConditionThread

__all__ = ["StudyCompleteCallback", "StudyTracker"]

log = logging.getLogger(__name__)

StudyCompleteCallback = Callable[[str], None]


@dataclass
class _Study:
    last_activity: float
    open_associations: set[Hashable] = field(default_factory=set)
    #: Found pending at start-up, and no instance since: wait ``stable_seconds``.
    resumed: bool = False


class StudyTracker(ConditionThread):
    """Tracks received instances per study and calls ``on_study_complete(study_instance_uid)``.

    Thread safe. :meth:`start` runs a daemon thread that fires callbacks when due;
    without it, :meth:`poll` does the same on demand (tests with a fake ``clock``).

    Parameters
    ----------
    on_study_complete
        Called with the StudyInstanceUID, on the tracker's thread. An exception is
        logged and does not stop the tracker.
    debounce_seconds
        Quiet time after the last association of a study ended.
    stable_seconds
        Quiet time after which a study is complete even with associations still open.
    clock
        Monotonic seconds; :func:`time.monotonic` unless a test passes its own.
    """

    def __init__(
        self,
        on_study_complete: StudyCompleteCallback,
        *,
        debounce_seconds: float = 2.0,
        stable_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if debounce_seconds < 0 or stable_seconds <= 0:
            raise ValueError(
                "debounce_seconds must be >= 0 and stable_seconds > 0, got "
                f"{debounce_seconds} and {stable_seconds}"
            )
        self._callback = on_study_complete
        self._debounce = debounce_seconds
        self._stable = stable_seconds
        self._clock = clock
        self._studies: dict[str, _Study] = {}
        super().__init__("study-tracker")

    # -- events -----------------------------------------------------------------
    def instance_received(self, study_instance_uid: str, association: Hashable | None) -> None:
        """An instance of ``study_instance_uid`` arrived on ``association`` (``None``: no
        association)."""
        with self._cond:
            study = self._studies.get(study_instance_uid)
            if study is None:
                study = self._studies[study_instance_uid] = _Study(last_activity=self._clock())
            study.last_activity = self._clock()
            study.resumed = False
            if association is not None:
                study.open_associations.add(association)
            self._cond.notify_all()

    def association_ended(self, association: Hashable) -> None:
        """An association ended (release, abort or lost connection): start the debounce."""
        with self._cond:
            now = self._clock()
            for study in self._studies.values():
                if association in study.open_associations:
                    study.open_associations.discard(association)
                    study.last_activity = now
            self._cond.notify_all()

    def mark_pending(self, study_instance_uid: str) -> None:
        """Track a study found pending at start-up: complete after ``stable_seconds``
        unless more of it arrives (then by the usual rules)."""
        with self._cond:
            self._studies.setdefault(
                study_instance_uid, _Study(last_activity=self._clock(), resumed=True)
            )
            self._cond.notify_all()

    @property
    def pending(self) -> list[str]:
        """StudyInstanceUIDs waiting for their quiet period."""
        with self._cond:
            return list(self._studies)

    # -- decisions --------------------------------------------------------------
    def _deadline(self, study: _Study) -> float:
        if study.open_associations or study.resumed:
            return study.last_activity + self._stable
        return study.last_activity + min(self._debounce, self._stable)

    def _take_due(self) -> tuple[list[str], float | None]:
        now = self._clock()
        due = [uid for uid, s in self._studies.items() if self._deadline(s) <= now]
        for uid in due:
            del self._studies[uid]
        upcoming = [self._deadline(s) for s in self._studies.values()]
        wait = max(0.0, min(upcoming) - now) if upcoming else None
        return due, wait

    def poll(self) -> list[str]:
        """Fire the callback for every study whose quiet period is over; return them."""
        with self._cond:
            due, _ = self._take_due()
        self._fire(due)
        return due

    def _fire(self, due: list[str]) -> None:
        for uid in due:
            log.info("study complete", extra={"study_uid": uid})
            try:
                self._callback(uid)
            except Exception:
                log.exception("study-complete callback failed", extra={"study_uid": uid})

    # -- thread -----------------------------------------------------------------
    def stop(self) -> None:
        """Stop the timer thread; studies still pending are not fired."""
        self._stop_thread()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                due, wait = self._take_due()
                if not due:
                    self._cond.wait(timeout=wait)
                    continue
            self._fire(due)
