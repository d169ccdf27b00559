"""The Comprehensive SR: one container per similar case and a summary, or the short
report that says why nothing was searched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import highdicom as hd
from pydicom import Dataset

from plugin.results import codes
from plugin.results.facts import QueryFacts, ResultHit
from plugin.results.report import no_result_content, report_content
from plugin.results.result_series import (
    MANUFACTURER,
    SR_SERIES_NUMBER,
    ResultUids,
    check_sources,
    set_series_attributes,
)

__all__ = ["build_report"]


def build_report(
    query: QueryFacts,
    hits: Sequence[ResultHit],
    *,
    per_diagnosis: dict[str, list[ResultHit]] | None,
    source_datasets: Sequence[Dataset],
    model_version: str,
    supersedes: str | None = None,
    uid_seed: str | None = None,
    now: dt.datetime | None = None,
) -> hd.sr.ComprehensiveSR:
    """The Comprehensive SR: the full report, or the short one when nothing was searched."""
    check_sources(query, source_datasets)
    when = now or dt.datetime.now()
    uids = ResultUids(uid_seed)
    if query.searchable:
        content = report_content(query, hits, per_diagnosis, model_version, supersedes)
        description = "simcase similar cases report (not for diagnostic use)"
    else:
        content = no_result_content(query, model_version, supersedes)
        description = "simcase: no similar-case search (not for diagnostic use)"
    sr = hd.sr.ComprehensiveSR(
        evidence=list(source_datasets),
        content=content,
        series_instance_uid=uids("sr-series"),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=uids("sr-instance"),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        series_description=description,
        coding_schemes=[codes.CODING_SCHEME],
        content_date=when.date(),
        content_time=when.time().replace(microsecond=0),
    )
    set_series_attributes(sr, when, description, model_version)
    return sr
