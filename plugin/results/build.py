"""``build_results``: the DICOM objects simcase writes into the query's study.

* a Secondary Capture montage (highdicom ``SCImage``, RGB, text burned in) and
* a Comprehensive SR (one container per similar case and a summary), or, when the
  study is not a brain MR or shows no tumour, only a short SR saying so;
* with the query's outline: a SEG of the tumour, a TID 1500 report of its volumes and
  the machine-readable similar-case list, a TID 1500 report that references the SEG
  (:mod:`plugin.results.similar_cases`).

Each kind goes into a new series of the query's study; Manufacturer is ``simcase``,
the model version is in SoftwareVersions and in the SR, and every object says it is
not for diagnostic use. Each object is built in its own module
(:mod:`~plugin.results.secondary_capture`, :mod:`~plugin.results.comprehensive_sr`,
:mod:`~plugin.results.outline_objects`); this one puts them together.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom import Dataset

from plugin.results.comprehensive_sr import build_report
from plugin.results.facts import QueryFacts, ResultHit
from plugin.results.outline_objects import QueryOutline, build_outline
from plugin.results.result_series import MANUFACTURER, SC_SERIES_NUMBER, SR_SERIES_NUMBER
from plugin.results.secondary_capture import build_montage

__all__ = [
    "MANUFACTURER",
    "SC_SERIES_NUMBER",
    "SR_SERIES_NUMBER",
    "QueryOutline",
    "build_montage",
    "build_outline",
    "build_report",
    "build_results",
]


def build_results(
    query: QueryFacts,
    hits: list[ResultHit],
    *,
    per_diagnosis: dict[str, list[ResultHit]] | None,
    source_datasets: list[Dataset],
    model_version: str,
    query_image: np.ndarray | None,
    hit_images: dict[str, np.ndarray],
    supersedes: str | None,
    uid_seed: str | None = None,
    outline: QueryOutline | None = None,
    now: dt.datetime | None = None,
) -> list[Dataset]:
    """All result objects for one query: ``[montage, report]`` or ``[short report]``;
    with ``outline``, ``[montage, SEG, measurement report, similar-case TID 1500 report,
    report]``.

    The similar-case report is always the last object.

    Parameters
    ----------
    query
        Facts about the query study (``query.searchable`` decides which objects).
    hits
        The overall most similar cases, best first.
    per_diagnosis
        The most similar cases of each diagnosis, or ``None``.
    source_datasets
        Instances of the query study (patient and study attributes, SR evidence).
    model_version
        The embedding model's version.
    query_image
        The query's tumour slice (2D grey or RGB); required when searchable.
    hit_images
        The archive cases' tumour slices by case id (missing ones show as empty tiles).
    supersedes
        SOPInstanceUID of the earlier report this one replaces, if any.
    uid_seed
        When given, UIDs derive from it, so the same seed yields the same objects' UIDs
        (e.g. study, model version and content hash: re-sending replaces, never adds).
    outline
        The query's tumour mask and its source series: adds a SEG of the mask and a
        TID 1500 report of the compartments' volumes (skipped, with a warning, when the
        mask cannot be written on that series). :func:`build_outline` makes the same
        objects on their own (to send them after the report).
    now
        Series and content date and time of every object (default: now).
    """
    now = (now or dt.datetime.now()).replace(microsecond=0)
    report = build_report(
        query,
        hits,
        per_diagnosis=per_diagnosis,
        source_datasets=source_datasets,
        model_version=model_version,
        supersedes=supersedes,
        uid_seed=uid_seed,
        now=now,
    )
    if not query.searchable:
        return [report]
    if query_image is None:
        raise ValueError("Argument 'query_image' is required when the query is searchable.")
    montage = build_montage(
        query,
        hits,
        per_diagnosis=per_diagnosis,
        source_datasets=source_datasets,
        model_version=model_version,
        query_image=query_image,
        hit_images=hit_images,
        uid_seed=uid_seed,
        now=now,
    )
    if outline is None:
        return [montage, report]
    outline_objects = build_outline(
        outline,
        model_version,
        uid_seed=uid_seed,
        now=now,
        hits=hits,
        per_diagnosis=per_diagnosis,
    )
    return [montage, *outline_objects, report]
