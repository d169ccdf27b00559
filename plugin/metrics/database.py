"""Gauges read from the database on each scrape: the state every process shares."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["DatabaseCollector", "database_metrics"]

_JOBS = (
    "SELECT queue_name, task_name, status::text, count(*) FROM procrastinate_jobs"
    " WHERE status IN ('todo', 'doing', 'failed')"
    " GROUP BY queue_name, task_name, status"
)
_OLDEST_TODO = (
    "SELECT j.queue_name, extract(epoch FROM now() - min(e.at)) FROM procrastinate_jobs j"
    " JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'"
    " WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())"
    " GROUP BY j.queue_name"
)
_MODELS = (
    "SELECT m.model_version, m.state,"
    " (SELECT count(*) FROM embeddings e"
    "  WHERE e.model_version = m.model_version AND e.slice_index = -1)"
    " FROM model_versions m"
)
_CASES = "SELECT count(*) FROM cases"
_PENDING_INTAKE = (
    "SELECT count(*), coalesce(extract(epoch FROM now() - min(last_received_at)), 0)"
    " FROM intake_studies WHERE completed_at IS NULL OR completed_at < last_received_at"
)
_RESULTS = "SELECT state, count(*) FROM results GROUP BY state"


class DatabaseCollector(Collector):
    """Prometheus collector over one open connection (autocommit)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(sql).fetchall())

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "simcase_jobs",
            "Jobs by queue, task and state (todo: waiting; doing: running; failed: gave up).",
            labels=["queue", "task", "status"],
        )
        for queue, task, status, count in self._rows(_JOBS):
            jobs.add_metric([str(queue), str(task), str(status)], float(count))
        yield jobs

        oldest = GaugeMetricFamily(
            "simcase_job_queue_oldest_seconds",
            "Age of the oldest job waiting to run, per queue (0 when none waits).",
            labels=["queue"],
        )
        for queue, age in self._rows(_OLDEST_TODO):
            oldest.add_metric([str(queue)], float(age or 0.0))
        yield oldest

        info = InfoMetricFamily(
            "simcase_model",
            "Every model version the database knows, with its state (one is active).",
            labels=["model_version", "state"],
        )
        archive = GaugeMetricFamily(
            "simcase_archive_cases",
            "Archive cases with a case vector under each model version.",
            labels=["model_version", "state"],
        )
        for version, state, count in self._rows(_MODELS):
            info.add_metric([str(version), str(state)], {})
            archive.add_metric([str(version), str(state)], float(count))
        yield info
        yield archive

        total = GaugeMetricFamily("simcase_cases", "Archive cases in the database.")
        total.add_metric([], float(self._rows(_CASES)[0][0]))
        yield total

        (count, age), *_ = self._rows(_PENDING_INTAKE)
        pending = GaugeMetricFamily(
            "simcase_intake_pending_studies",
            "Studies received by C-STORE and not yet declared complete.",
        )
        pending.add_metric([], float(count))
        yield pending
        pending_age = GaugeMetricFamily(
            "simcase_intake_pending_oldest_seconds",
            "Seconds since the last instance of the oldest study not yet declared complete.",
        )
        pending_age.add_metric([], float(age or 0.0))
        yield pending_age

        results = GaugeMetricFamily(
            "simcase_results", "Result sets recorded, by state.", labels=["state"]
        )
        for state, n in self._rows(_RESULTS):
            results.add_metric([str(state)], float(n))
        yield results


def database_metrics(conn: psycopg.Connection[Any]) -> bytes:
    """The database gauges in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(conn))
    return generate_latest(registry)
