"""Archive cases from a PACS over DICOMweb: QIDO-RS to find studies, WADO-RS to fetch.

Fetched studies are written as DICOM files under a cache folder (one folder per study)
and then indexed like any DICOM tree, so a re-run does not fetch them again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from indexer.case_discovery import CaseSource, ImportSummary, discover_dicom
from indexer.cases_csv import read_labels_file
from indexer.dicomweb_session import dicomweb_client
from indexer.errors import IndexerError

__all__ = ["discover_pacs", "fetch_study"]

log = logging.getLogger(__name__)


def fetch_study(url: str, study_instance_uid: str, cache: Path) -> Path:
    """Fetch one study by WADO-RS into ``cache/<study uid>/`` (skipped when present)."""
    target = cache / study_instance_uid
    done = target / ".complete"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    client = dicomweb_client(url)
    for ds in client.retrieve_study(study_instance_uid):
        ds.save_as(target / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
    done.touch()
    return target


def discover_pacs(
    url: str,
    cache: Path,
    summary: ImportSummary,
    filters: list[str] | None = None,
    labels: Path | None = None,
) -> list[CaseSource]:
    """Studies of the PACS matching ``filters`` (``Key=Value``), fetched and labelled."""
    if labels is None:
        raise IndexerError("--pacs needs --labels: a CSV of diagnoses keyed by study UID")
    read_labels_file(labels)  # a labels CSV that cannot be used fails before any fetch
    search_filters: dict[str, str] = {"ModalitiesInStudy": "MR"}
    for item in filters or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise IndexerError(f"filter {item!r} is not Key=Value")
        search_filters[key] = value
    client = dicomweb_client(url)
    studies = client.search_for_studies(search_filters=search_filters, get_remaining=True)
    for study in studies:
        uid = study.get("0020000D", {}).get("Value", [None])[0]
        if not uid:
            continue
        try:
            fetch_study(url, uid, cache)
        except Exception as exc:  # one unreachable study never aborts the import
            summary.skipped.append((uid, f"WADO-RS fetch failed: {exc}"))
            log.warning("study fetch failed", extra={"study_instance_uid": uid})
    return discover_dicom(cache, summary, labels, source="pacs")
