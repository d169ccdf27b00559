"""Step 1, load: the query study's instances, screened, without simcase's own objects.

Instances come from a :class:`StudySource`: the listener's spool (:class:`SpoolSource`)
or the PACS by WADO-RS (:class:`DicomwebSource`). One unreadable or invalid instance
never sinks the study: it is skipped, and the report names it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from pydicom.dataset import Dataset

from dicom_conversion import read_dicom_file
from indexer import intake
from plugin.dicom.instance_checks import fill_study_attributes, instance_problem, repair_dates
from plugin.dicom.uids import is_dicom_uid
from plugin.errors import StudySourceError
from plugin.orthanc.loop_guard import SIMCASE_MANUFACTURER

__all__ = [
    "DicomwebSource",
    "LoadedStudy",
    "Skipped",
    "SpoolSource",
    "StudySource",
    "load",
    "screen_instances",
    "skipped_facts",
    "study_source",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    """An instance left out of processing, and why."""

    series_instance_uid: str
    sop_instance_uid: str
    reason: str


class StudySource(Protocol):
    """Where a query study's instances come from."""

    def instances(self, study_instance_uid: str) -> list[Dataset | Skipped]: ...


class SpoolSource:
    """The instances the listener spooled and journalled for the study."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def instances(self, study_instance_uid: str) -> list[Dataset | Skipped]:
        loaded: list[Dataset | Skipped] = []
        for name in intake.study_files(self.conn, study_instance_uid):
            path = Path(name)
            if not path.exists():
                continue
            try:
                loaded.append(read_dicom_file(path))
            except Exception as exc:  # one unreadable file never sinks the study
                loaded.append(Skipped("?", path.stem, f"unreadable file ({type(exc).__name__})"))
        return loaded


class DicomwebSource:
    """The study as the PACS serves it by WADO-RS."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def instances(self, study_instance_uid: str) -> list[Dataset | Skipped]:
        from indexer.dicomweb_session import dicomweb_client

        return list(dicomweb_client(self.url).retrieve_study(study_instance_uid))


def study_source(
    source: str, conn: psycopg.Connection[Any], dicomweb_url: str | None
) -> StudySource:
    """The source named ``spool`` or ``dicomweb`` (a job's ``source`` argument)."""
    if source == "spool":
        return SpoolSource(conn)
    if source == "dicomweb":
        if not dicomweb_url:
            raise StudySourceError("SIMCASE_PACS__DICOMWEB_URL is not set: cannot pull the study")
        return DicomwebSource(dicomweb_url)
    raise StudySourceError(f"unknown study source {source!r}")


@dataclass(frozen=True)
class LoadedStudy:
    """The usable instances of a query study, what was skipped, and their content hash."""

    study_instance_uid: str
    datasets: list[Dataset]
    skipped: list[Skipped]

    @property
    def content_hash(self) -> str:
        """A hash of the usable instances' SOPInstanceUIDs (same instances, same hash)."""
        uids = sorted(str(ds.SOPInstanceUID) for ds in self.datasets)
        return hashlib.sha256("\n".join(uids).encode()).hexdigest()[:32]

    @property
    def patient_id(self) -> str | None:
        """The query's PatientID (its cases are never shown), if any."""
        if not self.datasets:
            return None
        return str(self.datasets[0].get("PatientID", "")) or None


def load(study_instance_uid: str, source: StudySource) -> LoadedStudy:
    """The study's usable instances (simcase's own results left out) and the skipped ones."""
    everything = source.instances(study_instance_uid)
    datasets, skipped = screen_instances(everything, study_instance_uid)
    return LoadedStudy(study_instance_uid, [ds for ds in datasets if not _is_own(ds)], skipped)


def _is_own(ds: Dataset) -> bool:
    return str(ds.get("Manufacturer", "")).strip().lower() == SIMCASE_MANUFACTURER


def _uid_or_unknown(ds: Dataset, keyword: str) -> str:
    try:
        value = str(ds.get(keyword) or "").strip()
    except Exception:
        return "?"
    return value if is_dicom_uid(value) else "?"


def screen_instances(
    loaded: list[Dataset | Skipped], study_instance_uid: str
) -> tuple[list[Dataset], list[Skipped]]:
    """Split the study's instances into the usable ones and the skipped ones.

    An instance is skipped when :func:`~plugin.dicom.instance_checks.instance_problem`
    names a problem, or when it belongs to another study; ISO-form dates and times of
    the usable ones are repaired in place, and the Type 2 patient and study attributes
    they lack are added empty (:func:`~plugin.dicom.instance_checks.fill_study_attributes`).
    """
    usable: list[Dataset] = []
    skipped: list[Skipped] = []
    for ds in loaded:
        if isinstance(ds, Skipped):
            skipped.append(ds)
            continue
        problem = instance_problem(ds)
        if problem is None and str(ds.StudyInstanceUID).strip() != study_instance_uid:
            problem = "belongs to another study"
        if problem is not None:
            skipped.append(
                Skipped(
                    _uid_or_unknown(ds, "SeriesInstanceUID"),
                    _uid_or_unknown(ds, "SOPInstanceUID"),
                    problem,
                )
            )
            continue
        repair_dates(ds)
        fill_study_attributes(ds)
        usable.append(ds)
    for item in skipped:
        log.warning(
            "instance skipped: %s",
            item.reason,
            extra={"study_uid": study_instance_uid, "sop_uid": item.sop_instance_uid},
        )
    return usable, skipped


def skipped_facts(usable: list[Dataset], skipped: list[Skipped]) -> tuple[tuple[str, str], ...]:
    """The report lines that name what was skipped (empty when nothing was)."""
    if not skipped:
        return ()
    shown = "; ".join(f"{s.sop_instance_uid} ({s.reason})" for s in skipped[:5])
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    lines = [("skipped instances", f"{len(skipped)}: {shown}{more}")]
    kept_series = {str(ds.SeriesInstanceUID) for ds in usable}
    lost = sorted({s.series_instance_uid for s in skipped} - kept_series - {"?"})
    if lost:
        lines.append(("skipped series", ", ".join(lost)))
    return tuple(lines)
