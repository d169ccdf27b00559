from __future__ import annotations

import threading
import time

import pytest

from plugin.dicom.study_tracker import StudyTracker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(debounce: float = 2.0, stable: float = 30.0) -> tuple[StudyTracker, list[str], FakeClock]:
    fired: list[str] = []
    clock = FakeClock()
    tracker = StudyTracker(
        fired.append, debounce_seconds=debounce, stable_seconds=stable, clock=clock
    )
    return tracker, fired, clock


def test_release_then_debounce_fires_once() -> None:
    tracker, fired, clock = make()
    tracker.instance_received("1.2.3", "a1")
    tracker.instance_received("1.2.3", "a1")
    clock.now += 10
    assert tracker.poll() == []  # association still open, stable period not over
    tracker.association_ended("a1")
    clock.now += 1.9
    assert tracker.poll() == []
    clock.now += 0.2
    assert tracker.poll() == ["1.2.3"]
    clock.now += 100
    assert tracker.poll() == []
    assert fired == ["1.2.3"]


def test_late_instance_triggers_again() -> None:
    tracker, fired, clock = make()
    tracker.instance_received("1.2.3", "a1")
    tracker.association_ended("a1")
    clock.now += 2
    tracker.poll()
    tracker.instance_received("1.2.3", "a2")
    tracker.association_ended("a2")
    clock.now += 2
    tracker.poll()
    assert fired == ["1.2.3", "1.2.3"]


def test_open_association_times_out_after_stable_seconds() -> None:
    tracker, _, clock = make(stable=30)
    tracker.instance_received("1.2.3", "a1")
    clock.now += 29.9
    assert tracker.poll() == []
    clock.now += 0.1
    assert tracker.poll() == ["1.2.3"]


def test_study_waits_for_every_association_that_brought_it() -> None:
    tracker, _, clock = make()
    tracker.instance_received("1.2.3", "a1")
    tracker.instance_received("1.2.3", "a2")
    tracker.association_ended("a1")
    clock.now += 5
    assert tracker.poll() == []
    tracker.association_ended("a2")
    clock.now += 2
    assert tracker.poll() == ["1.2.3"]


def test_studies_are_independent() -> None:
    tracker, fired, clock = make()
    tracker.instance_received("1.1", "a1")
    tracker.association_ended("a1")
    clock.now += 1
    tracker.instance_received("2.2", "a2")
    tracker.association_ended("a2")
    clock.now += 1
    assert tracker.poll() == ["1.1"]
    clock.now += 1
    assert tracker.poll() == ["2.2"]
    assert fired == ["1.1", "2.2"]


def test_callback_error_does_not_stop_the_tracker() -> None:
    calls: list[str] = []

    def flaky(uid: str) -> None:
        calls.append(uid)
        if uid == "bad":
            raise RuntimeError("boom")

    clock = FakeClock()
    tracker = StudyTracker(flaky, debounce_seconds=0, clock=clock)
    tracker.mark_pending("bad")
    tracker.mark_pending("good")
    clock.now += 30
    assert sorted(tracker.poll()) == ["bad", "good"]
    assert sorted(calls) == ["bad", "good"]


def test_a_study_pending_at_start_waits_stable_seconds_for_a_resend() -> None:
    """Found pending at start-up (maybe cut off by a crash): not complete after the
    debounce, so a resend joins it; without one it is complete after stable_seconds."""
    tracker, fired, clock = make(debounce=2, stable=30)
    tracker.mark_pending("1.2.3")
    tracker.mark_pending("4.5.6")
    clock.now += 2.5
    assert tracker.poll() == []
    tracker.instance_received("1.2.3", "resend")  # the sender sends the study again
    clock.now += 10
    tracker.association_ended("resend")
    clock.now += 2
    assert tracker.poll() == ["1.2.3"]  # the usual debounce once more of it arrived
    clock.now += 15.4
    assert tracker.poll() == []
    clock.now += 0.2
    assert tracker.poll() == ["4.5.6"]  # no resend: complete after stable_seconds
    assert fired == ["1.2.3", "4.5.6"]


def test_thread_fires_with_real_time() -> None:
    done = threading.Event()
    fired: list[str] = []

    def collect(uid: str) -> None:
        fired.append(uid)
        done.set()

    tracker = StudyTracker(collect, debounce_seconds=0.2, stable_seconds=30)
    tracker.start()
    try:
        start = time.monotonic()
        tracker.instance_received("9.9", "a")
        tracker.association_ended("a")
        assert done.wait(5)
        assert time.monotonic() - start >= 0.19
        assert fired == ["9.9"]
    finally:
        tracker.stop()


def test_rejects_bad_timings() -> None:
    with pytest.raises(ValueError, match="stable_seconds"):
        StudyTracker(print, stable_seconds=0)
