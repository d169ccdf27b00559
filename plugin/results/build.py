"""``build_results``: the DICOM objects simcase writes into the query's study.

* a Secondary Capture montage (highdicom ``SCImage``, RGB, text burned in) and
* a Comprehensive SR (one container per similar case and a summary), or, when the
  study is not a brain MR or shows no tumour, only a short SR saying so;
* with the query's outline: a SEG of the tumour, a TID 1500 report of its volumes and
  the machine-readable similar-case list, a TID 1500 report that references the SEG
  (:mod:`plugin.results.similar_cases`).

Each kind goes into a new series of the query's study; Manufacturer is ``simcase``,
the model version is in SoftwareVersions and in the SR, and every object says it is
not for diagnostic use.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from plugin.errors import OutlineError
from plugin.results import codes
from plugin.results.facts import QueryFacts, ResultHit
from plugin.results.montage import NOT_FOR_DIAGNOSTIC_USE, MontageRow, render_montage
from plugin.results.report import no_result_content, report_content
from plugin.results.segmentation import (
    build_measurement_report,
    build_segmentation,
    compartment_volumes_ml,
)
from plugin.results.similar_cases import build_similar_case_report

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

log = logging.getLogger(__name__)

MANUFACTURER = "simcase"
SC_SERIES_NUMBER = 9901
SR_SERIES_NUMBER = 9902


@dataclass(frozen=True)
class QueryOutline:
    """The query's tumour mask on the study grid and the series it is written on.

    Attributes
    ----------
    mask
        uint8 BraTS label mask (X, Y, Z) on the study grid.
    affine_ras
        The study grid's voxel-to-RAS affine.
    series
        The study's reference series (the grid's source), in highdicom frame order.
    mask_source
        ``"given"`` (a SEG in the study) or ``"segmenter"``.
    """

    mask: np.ndarray
    affine_ras: np.ndarray
    series: Sequence[Dataset]
    mask_source: str


class _Uids:
    """New UIDs, reproducible from ``seed`` when one is given (same content, same UIDs)."""

    def __init__(self, seed: str | None) -> None:
        self._seed = seed

    def __call__(self, role: str) -> str:
        if self._seed is None:
            return str(generate_uid())
        return str(generate_uid(entropy_srcs=[self._seed, role]))


def _check_sources(query: QueryFacts, source_datasets: Sequence[Dataset]) -> Dataset:
    if not source_datasets:
        raise ValueError("Argument 'source_datasets' must hold at least one query instance.")
    ref = source_datasets[0]
    if str(ref.StudyInstanceUID) != query.study_instance_uid:
        raise ValueError(
            "Argument 'source_datasets' must come from the query study "
            f"{query.study_instance_uid}, got {ref.StudyInstanceUID}."
        )
    return ref


def _common(ds: Dataset, when: dt.datetime, description: str, model_version: str) -> None:
    ds.SeriesDate = when.strftime("%Y%m%d")
    ds.SeriesTime = when.strftime("%H%M%S")
    ds.SeriesDescription = description[:64]
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "simcase"
    ds.SoftwareVersions = model_version[:64]


def build_montage(
    query: QueryFacts,
    hits: Sequence[ResultHit],
    *,
    per_diagnosis: dict[str, list[ResultHit]] | None,
    source_datasets: Sequence[Dataset],
    model_version: str,
    query_image: np.ndarray,
    hit_images: dict[str, np.ndarray],
    uid_seed: str | None = None,
    now: dt.datetime | None = None,
) -> hd.sc.SCImage:
    """The Secondary Capture montage (query slice beside the similar cases)."""
    ref = _check_sources(query, source_datasets)
    when = now or dt.datetime.now()
    uids = _Uids(uid_seed)
    rows = [MontageRow("Most similar cases" if per_diagnosis else None, list(hits))]
    for diagnosis, group in (per_diagnosis or {}).items():
        if group:
            rows.append(MontageRow(f"Most similar {diagnosis} cases", group))
    pixels = render_montage(
        query_image,
        rows,
        hit_images,
        title="simcase similar cases",
        footer=f"model {model_version}",
    )
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=ref,
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=uids("sc-series"),
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=uids("sc-instance"),
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=("L", "P"),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        content_date=when.date(),
        content_time=when.time().replace(microsecond=0),
    )
    _common(sc, when, "simcase similar cases (not for diagnostic use)", model_version)
    sc.BurnedInAnnotation = "YES"
    # An unpaired body part: General Series' Laterality (type 2C) is then not required.
    sc.BodyPartExamined = "BRAIN"
    sc.ImageComments = (
        f"{NOT_FOR_DIAGNOSTIC_USE}. Similar archive cases by pseudonymous case id; "
        f"model {model_version}."
    )
    sc.ConversionType = "WSD"
    return sc


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
    _check_sources(query, source_datasets)
    when = now or dt.datetime.now()
    uids = _Uids(uid_seed)
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
    _common(sr, when, description, model_version)
    return sr


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


def build_outline(
    outline: QueryOutline,
    model_version: str,
    *,
    uid_seed: str | None = None,
    now: dt.datetime | None = None,
    hits: Sequence[ResultHit] = (),
    per_diagnosis: dict[str, list[ResultHit]] | None = None,
) -> list[Dataset]:
    """``[SEG, TID 1500 measurement report]`` of the query's tumour, or ``[]`` when the
    mask cannot be written on its series (logged); with ``hits`` (or ``per_diagnosis``),
    the similar-case TID 1500 report that references the SEG follows."""
    when = now or dt.datetime.now().replace(microsecond=0)
    uids = _Uids(uid_seed)
    try:
        seg = build_segmentation(
            outline.mask,
            outline.affine_ras,
            outline.series,
            model_version=model_version,
            mask_source=outline.mask_source,
            uid=uids,
            now=when,
        )
    except OutlineError as exc:
        log.warning(
            "no SEG of the tumour: %s",
            exc,
            extra={"study_uid": str(outline.series[0].StudyInstanceUID) if outline.series else ""},
        )
        return []
    volumes = compartment_volumes_ml(outline.mask, outline.affine_ras)
    measurements = build_measurement_report(
        seg, volumes, outline.series, model_version=model_version, uid=uids, now=when
    )
    if not hits and not any((per_diagnosis or {}).values()):
        return [seg, measurements]
    similar = build_similar_case_report(
        hits,
        per_diagnosis,
        seg,
        outline.series,
        model_version=model_version,
        uid=uids,
        now=when,
    )
    return [seg, measurements, similar]
