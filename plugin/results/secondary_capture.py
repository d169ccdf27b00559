"""The Secondary Capture montage: the query's tumour slice beside the similar cases,
with diagnosis, similarity and "not for diagnostic use" burned in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from plugin.results.facts import QueryFacts, ResultHit
from plugin.results.montage import NOT_FOR_DIAGNOSTIC_USE, MontageRow, render_montage
from plugin.results.result_series import (
    MANUFACTURER,
    SC_SERIES_NUMBER,
    ResultUids,
    check_sources,
    set_series_attributes,
)

__all__ = ["build_montage"]


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
    ref = check_sources(query, source_datasets)
    when = now or dt.datetime.now()
    uids = ResultUids(uid_seed)
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
    set_series_attributes(sc, when, "simcase similar cases (not for diagnostic use)", model_version)
    sc.BurnedInAnnotation = "YES"
    # An unpaired body part: General Series' Laterality (type 2C) is then not required.
    sc.BodyPartExamined = "BRAIN"
    sc.ImageComments = (
        f"{NOT_FOR_DIAGNOSTIC_USE}. Similar archive cases by pseudonymous case id; "
        f"model {model_version}."
    )
    sc.ConversionType = "WSD"
    return sc
