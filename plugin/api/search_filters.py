"""The search page's filters as query parameters: diagnosis, age range, sex, metadata
``key=value`` pairs, and whose patient to leave out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pydicom
from fastapi import Depends, HTTPException, Query, status

from indexer.store import SearchFilters

__all__ = ["FilterDep", "SearchFilterParams", "patient_of_upload"]

_NIFTI = (".nii", ".nii.gz")


@dataclass(frozen=True)
class SearchFilterParams:
    """The filters and the patient exclusion a search request asked for."""

    filters: SearchFilters
    exclude_patient: str | None
    exclude_own_patient: bool


def _metadata(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"metadata filter {pair!r} is not key=value",
            )
        out[key.strip()] = value.strip()
    return out


def _filter_params(
    diagnosis: Annotated[list[str] | None, Query(max_length=64)] = None,
    age_min: Annotated[int | None, Query(ge=0, le=130)] = None,
    age_max: Annotated[int | None, Query(ge=0, le=130)] = None,
    sex: Annotated[Literal["F", "M", "O"] | None, Query()] = None,
    metadata: Annotated[
        list[str] | None,
        Query(max_length=16, description="archive metadata key=value (repeatable)"),
    ] = None,
    exclude_patient: Annotated[
        str | None, Query(max_length=64, description="leave out this patient id")
    ] = None,
    exclude_own_patient: Annotated[
        bool, Query(description="leave out the uploaded study's own patient (DICOM PatientID)")
    ] = True,
) -> SearchFilterParams:
    if age_min is not None and age_max is not None and age_min > age_max:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "age_min is larger than age_max")
    filters = SearchFilters(
        diagnoses=diagnosis or None,
        age_min=age_min,
        age_max=age_max,
        sex=sex,
        metadata=_metadata(metadata or []),
    )
    return SearchFilterParams(
        filters=filters,
        exclude_patient=(exclude_patient or "").strip() or None,
        exclude_own_patient=exclude_own_patient,
    )


def patient_of_upload(folder: Path) -> str | None:
    """The PatientID of the first DICOM file of an upload (None for NIfTI or none set)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.endswith(_NIFTI):
            return None
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["PatientID"])
        except Exception:  # not DICOM: the loader reports it
            continue
        patient = str(ds.get("PatientID", "") or "").strip()
        return patient or None
    return None


FilterDep = Annotated[SearchFilterParams, Depends(_filter_params)]
