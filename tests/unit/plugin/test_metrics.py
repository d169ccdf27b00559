"""The in-process instruments: what a worker and a listener count."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydicom import Dataset

from indexer.intake import ReceivedInstance
from plugin.dicom.journal import MemoryJournal
from plugin.errors import SendError
from plugin.metrics import (
    CountingJournal,
    record_failure,
    record_latency,
    record_outcome,
    record_send,
    record_study_queued,
)
from plugin.results.sender import _retry


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def no_sleep(_: float) -> None:
    pass


def test_outcomes_count_processed_and_skipped_and_observe_stages() -> None:
    answered = value("simcase_studies_processed_total", outcome="answered")
    short = value("simcase_studies_processed_total", outcome="short_report")
    unchanged = value("simcase_studies_skipped_total", reason="unchanged")
    searches = value("simcase_stage_seconds_count", stage="search")
    embed_sum = value("simcase_stage_seconds_sum", stage="embed")

    record_outcome("sent", ["SYN-1"], {"load": 0.5, "segment": 0.3, "embed": 2.0, "search": 0.01})
    record_outcome("saved", [], {"load": 0.1})
    record_outcome("unchanged", [], {"load_files": 0.2})

    assert value("simcase_studies_processed_total", outcome="answered") == answered + 1
    assert value("simcase_studies_processed_total", outcome="short_report") == short + 1
    assert value("simcase_studies_skipped_total", reason="unchanged") == unchanged + 1
    assert value("simcase_stage_seconds_count", stage="search") == searches + 1
    assert value("simcase_stage_seconds_sum", stage="embed") == pytest.approx(embed_sum + 2.0)
    assert value("simcase_stage_seconds_bucket", stage="search", le="0.05") >= 1
    assert value("simcase_stage_seconds_count", stage="fetch") >= 1  # load_files


def test_latency_by_source_never_negative() -> None:
    count = value("simcase_study_latency_seconds_count", source="spool")
    total = value("simcase_study_latency_seconds_sum", source="spool")
    within_3s = value("simcase_study_latency_seconds_bucket", source="spool", le="3.0")
    record_latency("spool", 1.7)
    record_latency("spool", -0.2)  # clocks: a delivery is never before its arrival
    assert value("simcase_study_latency_seconds_count", source="spool") == count + 2
    assert value("simcase_study_latency_seconds_sum", source="spool") == pytest.approx(total + 1.7)
    assert value("simcase_study_latency_seconds_bucket", source="spool", le="3.0") == (
        within_3s + 2
    )


def test_failures_by_reason() -> None:
    before = {r: value("simcase_studies_failed_total", reason=r) for r in ("send", "other")}
    record_failure(SendError("PACS down"))
    record_failure(RuntimeError("bug"))
    assert value("simcase_studies_failed_total", reason="send") == before["send"] + 1
    assert value("simcase_studies_failed_total", reason="other") == before["other"] + 1


def test_send_retries_counted_by_the_senders_retry_loop() -> None:
    retries = value("simcase_send_retries_total")
    failed = value("simcase_send_attempts_total", result="failed")
    calls: list[int] = []

    def flaky(pending: list[Dataset]) -> list[Dataset]:
        calls.append(len(pending))
        if len(calls) < 3:
            raise OSError("connection refused")
        return []

    batch = [Dataset()]
    assert _retry("pacs", flaky, batch, attempts=4, backoff_seconds=0, sleep=no_sleep) == 3
    assert value("simcase_send_retries_total") == retries + 2
    with pytest.raises(SendError):
        _retry("pacs", lambda p: p, batch, attempts=2, backoff_seconds=0, sleep=no_sleep)
    assert value("simcase_send_retries_total") == retries + 3
    assert value("simcase_send_attempts_total", result="failed") == failed + 1
    record_send(1, delivered=True)
    assert value("simcase_send_retries_total") == retries + 3


def test_counting_journal_counts_instances_and_queued_studies() -> None:
    received = value("simcase_instances_received_total")
    queued = value("simcase_studies_received_total", source="spool")
    journal = CountingJournal(MemoryJournal())
    instance = ReceivedInstance(
        "1.2.3.1", "1.2.3", "1.2.3.4", "1.2.840.10008.5.1.4.1.1.4", Path("/p"), "MR", "A"
    )
    assert journal.record(instance)
    journal.record_many([instance, instance])
    journal.study_completed("1.2.3")
    assert value("simcase_instances_received_total") == received + 3
    assert journal.known_paths() == {"/p"}
    assert journal.pending() == []
    record_study_queued("spool")
    assert value("simcase_studies_received_total", source="spool") == queued + 1


def test_a_process_without_the_api_serves_its_own_metrics() -> None:
    import httpx

    from plugin.metrics import serve_process_metrics
    from tests.conftest import free_port

    serve_process_metrics(None, "127.0.0.1")  # unset: nothing to serve
    port = free_port()
    serve_process_metrics(port, "127.0.0.1")
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert "simcase_stage_seconds" in text and "simcase_instances_received_total" in text
