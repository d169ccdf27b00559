"""Result objects written back into the query study, and how they are sent."""

from plugin.results.build import QueryOutline, build_montage, build_report, build_results
from plugin.results.facts import QueryFacts, ResultHit

__all__ = [
    "QueryFacts",
    "QueryOutline",
    "ResultHit",
    "build_montage",
    "build_report",
    "build_results",
]
