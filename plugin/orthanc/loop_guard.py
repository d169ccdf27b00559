"""The loop guard: never route or process a study again because simcase's results arrived.

Storing simcase's SC/SR into a study makes Orthanc declare the study stable again. A
study is routed only when it has a series that is not simcase's own (Manufacturer
``simcase``) and that was not routed before, and when it holds an MR series at all. The
series routed are remembered in the study's ``SimcaseRouted`` user metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "SIMCASE_MANUFACTURER",
    "RouteDecision",
    "SeriesInfo",
    "decide",
    "format_routed",
    "parse_routed",
]

SIMCASE_MANUFACTURER = "simcase"


@dataclass(frozen=True)
class SeriesInfo:
    """What the guard needs to know about one series in the PACS."""

    series_id: str
    modality: str
    manufacturer: str


@dataclass(frozen=True)
class RouteDecision:
    """Whether to route a study, which series, and why (for logs)."""

    route: bool
    series_ids: tuple[str, ...]
    reason: str


def is_own(series: SeriesInfo) -> bool:
    """Whether simcase wrote this series (its results)."""
    return series.manufacturer.strip().lower() == SIMCASE_MANUFACTURER


def decide(series: Sequence[SeriesInfo], routed: Iterable[str]) -> RouteDecision:
    """Route the study's non-simcase series when one of them is new and it has an MR one."""
    done = set(routed)
    theirs = [s for s in series if not is_own(s)]
    ids = tuple(sorted(s.series_id for s in theirs))
    if not theirs:
        return RouteDecision(False, (), "only simcase's own series")
    if not any(s.series_id not in done for s in theirs):
        return RouteDecision(False, ids, "no new series besides simcase's own results")
    if not any(s.modality.upper() == "MR" for s in theirs):
        return RouteDecision(False, ids, "no MR series")
    return RouteDecision(True, ids, "new series")


def format_routed(series_ids: Iterable[str]) -> str:
    """The ``SimcaseRouted`` metadata value for these series."""
    return ",".join(sorted(set(series_ids)))


def parse_routed(value: str | None) -> set[str]:
    """The series ids recorded in a ``SimcaseRouted`` metadata value."""
    return {s for s in (value or "").split(",") if s.strip()}
