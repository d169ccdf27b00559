"""What every result object shares: its maker (``Manufacturer`` simcase, the model
version in ``SoftwareVersions``), its series numbers and date, and new UIDs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydicom import Dataset
from pydicom.uid import generate_uid

from plugin.orthanc.loop_guard import SIMCASE_MANUFACTURER
from plugin.results.facts import QueryFacts

__all__ = [
    "MANUFACTURER",
    "SC_SERIES_NUMBER",
    "SR_SERIES_NUMBER",
    "ResultUids",
    "check_sources",
    "set_series_attributes",
]

#: The Manufacturer of every object simcase writes: the one the loop guard knows its own
#: results by.
MANUFACTURER = SIMCASE_MANUFACTURER
SC_SERIES_NUMBER = 9901
SR_SERIES_NUMBER = 9902


class ResultUids:
    """New UIDs, reproducible from ``seed`` when one is given (same content, same UIDs)."""

    def __init__(self, seed: str | None) -> None:
        self._seed = seed

    def __call__(self, role: str) -> str:
        if self._seed is None:
            return str(generate_uid())
        return str(generate_uid(entropy_srcs=[self._seed, role]))


def check_sources(query: QueryFacts, source_datasets: Sequence[Dataset]) -> Dataset:
    """The first query instance (the reference of a result object), checked to be of the
    query's study."""
    if not source_datasets:
        raise ValueError("Argument 'source_datasets' must hold at least one query instance.")
    ref = source_datasets[0]
    if str(ref.StudyInstanceUID) != query.study_instance_uid:
        raise ValueError(
            "Argument 'source_datasets' must come from the query study "
            f"{query.study_instance_uid}, got {ref.StudyInstanceUID}."
        )
    return ref


def set_series_attributes(
    ds: Dataset, when: dt.datetime, description: str, model_version: str
) -> None:
    """What every result object says of its series and maker (the model version too)."""
    ds.SeriesDate = when.strftime("%Y%m%d")
    ds.SeriesTime = when.strftime("%H%M%S")
    ds.SeriesDescription = description[:64]
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "simcase"
    ds.SoftwareVersions = model_version[:64]
