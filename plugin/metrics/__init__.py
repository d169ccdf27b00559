"""Prometheus metrics an operator alerts on (docs/operations.md says what each means).

Two kinds:

* in-process instruments (:mod:`plugin.metrics.instruments`): instances received, studies
  queued, studies processed / skipped / failed, stage latencies, each study's arrival-to-
  delivery latency, send retries; counted in
  the process that does the work (``simcase run`` is one process; a separate
  ``simcase worker`` or ``simcase listen`` serves its own on ``SIMCASE_METRICS_PORT``);
* database gauges (:mod:`plugin.metrics.database`), read on every scrape of the API's
  ``/metrics``: job queue depth and age, model versions, archive size per model version,
  studies waiting for completion, results per state. Every API replica reports the same.
"""

from plugin.metrics.database import DatabaseCollector, database_metrics
from plugin.metrics.instruments import (
    SKIPPED_STATES,
    CountingJournal,
    record_failure,
    record_latency,
    record_outcome,
    record_send,
    record_study_queued,
    serve_process_metrics,
)

__all__ = [
    "SKIPPED_STATES",
    "CountingJournal",
    "DatabaseCollector",
    "database_metrics",
    "record_failure",
    "record_latency",
    "record_outcome",
    "record_send",
    "record_study_queued",
    "serve_process_metrics",
]
