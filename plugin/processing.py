"""``process_study``: a query study in, similar-case results back into the same study.

load (spool or DICOMweb) -> StudyVolumes -> mask (SEG in the study, else the segmenter)
-> embedding -> search -> SC montage + Comprehensive SR -> send -> record and audit.
A study that is not a brain MR, or has no tumour, gets a short SR saying so; re-running
an unchanged study under the same model version sends nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from PIL import Image
from pydicom.dataset import Dataset

from dicom_conversion import ConversionError, StudyVolumes, load_study, read_dicom_file
from dicom_conversion.sequences import MRSequence
from indexer import intake
from indexer.cases import audit
from indexer.database import connect
from indexer.jobs import JobResources
from indexer.pipeline import NoTumourError, embed_study, models_for_search
from indexer.store import SearchHit
from indexer.thumbnails import tumour_slice_image
from plugin.dicom.instance_checks import instance_problem, repair_dates
from plugin.dicom.uids import is_dicom_uid, require_uid, safe_component
from plugin.errors import PluginError
from plugin.orthanc.loop_guard import SIMCASE_MANUFACTURER
from plugin.results import QueryFacts, QueryOutline, ResultHit, build_results
from plugin.results.build import build_outline
from plugin.results.segmentation import OutlineError, source_series
from plugin.results.sender import sender_from_settings
from plugin.settings import Settings

__all__ = [
    "ProcessOutcome",
    "Skipped",
    "StudySourceError",
    "build_outline_safely",
    "process_study",
    "result_set",
    "results_folder",
    "save_results",
    "screen_instances",
    "skipped_facts",
]

log = logging.getLogger(__name__)

#: Results shown per query: the overall top k and the top n of each diagnosis.
TOP_K = 5
PER_DIAGNOSIS = 2
MONTAGE_TILE = 256


class StudySourceError(PluginError):
    """The query study's instances could not be obtained."""

    __module__ = "plugin"


@dataclass
class ProcessOutcome:
    """What processing one study did (the job's result)."""

    study_instance_uid: str
    state: str  # "sent", "saved", "unchanged", "no-input"
    model_version: str
    sop_instance_uids: list[str] = field(default_factory=list)
    shown_case_ids: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    #: Instances left out because they could not be used (named in the report).
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "study_instance_uid": self.study_instance_uid,
            "state": self.state,
            "model_version": self.model_version,
            "sop_instance_uids": self.sop_instance_uids,
            "shown_case_ids": self.shown_case_ids,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
        }


def _load_datasets(
    study_uid: str, source: str, conn: psycopg.Connection[Any], settings: Settings
) -> list[Dataset | Skipped]:
    if source == "spool":
        loaded: list[Dataset | Skipped] = []
        for name in intake.study_files(conn, study_uid):
            path = Path(name)
            if not path.exists():
                continue
            try:
                loaded.append(read_dicom_file(path))
            except Exception as exc:  # one unreadable file never sinks the study
                loaded.append(Skipped("?", path.stem, f"unreadable file ({type(exc).__name__})"))
        return loaded
    if source == "dicomweb":
        if not settings.pacs.dicomweb_url:
            raise StudySourceError("SIMCASE_PACS__DICOMWEB_URL is not set: cannot pull the study")
        from dicomweb_client.api import DICOMwebClient

        client = DICOMwebClient(url=settings.pacs.dicomweb_url.rstrip("/"))
        return list(client.retrieve_study(study_uid))
    raise StudySourceError(f"unknown study source {source!r}")


@dataclass(frozen=True)
class Skipped:
    """An instance left out of processing, and why."""

    series_instance_uid: str
    sop_instance_uid: str
    reason: str


def _uid_or_unknown(ds: Dataset, keyword: str) -> str:
    try:
        value = str(ds.get(keyword) or "").strip()
    except Exception:
        return "?"
    return value if is_dicom_uid(value) else "?"


def screen_instances(
    loaded: list[Dataset | Skipped], study_uid: str
) -> tuple[list[Dataset], list[Skipped]]:
    """Split the study's instances into the usable ones and the skipped ones.

    An instance is skipped when :func:`~plugin.dicom.instance_checks.instance_problem`
    names a problem, or when it belongs to another study; ISO-form dates and times of
    the usable ones are repaired in place.
    """
    usable: list[Dataset] = []
    skipped: list[Skipped] = []
    for ds in loaded:
        if isinstance(ds, Skipped):
            skipped.append(ds)
            continue
        problem = instance_problem(ds)
        if problem is None and str(ds.StudyInstanceUID).strip() != study_uid:
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
        usable.append(ds)
    for item in skipped:
        log.warning(
            "instance skipped: %s",
            item.reason,
            extra={"study_uid": study_uid, "sop_uid": item.sop_instance_uid},
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


def _is_own(ds: Dataset) -> bool:
    return str(ds.get("Manufacturer", "")).strip().lower() == SIMCASE_MANUFACTURER


def _content_hash(datasets: list[Dataset]) -> str:
    uids = sorted(str(ds.SOPInstanceUID) for ds in datasets)
    return hashlib.sha256("\n".join(uids).encode()).hexdigest()[:32]


def _location(tumour: dict[str, Any]) -> str | None:
    parts = [str(tumour.get("hemisphere") or ""), str(tumour.get("lobe") or "")]
    text = " ".join(p for p in parts if p and p != "None")
    return text or None


def _result_hit(hit: SearchHit) -> ResultHit:
    volume = hit.tumour.get("volume_ml")
    return ResultHit(
        rank=hit.rank,
        case_id=hit.case_id,
        diagnosis=hit.diagnosis,
        similarity=hit.similarity,
        tumour_volume_ml=float(volume) if volume is not None else None,
        location=_location(hit.tumour),
        study_instance_uid=hit.study_instance_uid if hit.source in ("pacs", "dicom") else None,
    )


def _decode_png(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"))


def _previous_result(
    conn: psycopg.Connection[Any], study_uid: str, version: str, content_hash: str
) -> tuple[str | None, bool]:
    """(SR SOPInstanceUID of the latest earlier result, whether this exact one was sent)."""
    same = conn.execute(
        "SELECT 1 FROM results WHERE study_instance_uid = %s AND model_version = %s"
        " AND content_hash = %s AND state = 'sent'",
        (study_uid, version, content_hash),
    ).fetchone()
    earlier = conn.execute(
        "SELECT sop_instance_uids FROM results WHERE study_instance_uid = %s AND state = 'sent'"
        " ORDER BY id DESC LIMIT 1",
        (study_uid,),
    ).fetchone()
    supersedes = earlier[0][-1] if earlier and earlier[0] else None
    return supersedes, same is not None


def _query_facts(
    study_uid: str, study: StudyVolumes, facts: dict[str, Any], k: int, mask_source: str
) -> QueryFacts:
    return QueryFacts(
        study_instance_uid=study_uid,
        sequences_used=tuple(s.value for s in study.arrays),
        missing_sequences=tuple(s.value for s in study.missing),
        tumour_volume_ml=float(facts["volume_ml"]),
        location=_location(facts),
        tumour_slice=k,
        extra=(
            (
                "tumour outline from",
                "a SEG in the study" if mask_source == "given" else "simcase segmentation model",
            ),
            ("lesions", str(facts.get("lesion_count", "?"))),
            ("enhancing volume (ml)", f"{float(facts.get('enhancing_ml', 0.0)):.1f}"),
            ("oedema volume (ml)", f"{float(facts.get('oedema_ml', 0.0)):.1f}"),
        ),
    )


def _reference_series_uid(study: StudyVolumes) -> str | None:
    """The series whose grid is the study grid (``load_study``'s reference: T1C, else the
    first sequence present)."""
    if not study.arrays:
        return None
    reference = (
        MRSequence.T1C
        if MRSequence.T1C in study.arrays
        else next(s for s in MRSequence.ordered() if s in study.arrays)
    )
    for decision in study.decisions:
        if decision.selected and decision.sequence is reference:
            return decision.series_instance_uid
    return None


def _outline(
    study: StudyVolumes, mask: np.ndarray, mask_source: str, datasets: list[Dataset]
) -> QueryOutline | None:
    series_uid = _reference_series_uid(study)
    if series_uid is None:
        return None
    try:
        series = source_series(datasets, series_uid)
    except OutlineError as exc:
        log.warning("no SEG of the tumour: %s", exc)
        return None
    return QueryOutline(mask, study.affine, series, mask_source)


def results_folder(results_dir: Path, study_uid: str) -> Path:
    """The folder of one study's results under ``results_dir``: named by the UID when it
    is a DICOM UID, else by a hash of it (never a path a received value chose)."""
    return results_dir / safe_component(study_uid)


def save_results(results_dir: Path, study_uid: str, batch: list[Dataset]) -> Path:
    """Write one result set into the study's results folder, all or nothing.

    Every object is encoded to a hidden temporary file first; only when all of them are
    written are they renamed to ``<SOPInstanceUID>.dcm``.
    """
    folder = results_folder(results_dir, study_uid)
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for ds in batch:
            final = folder / f"{safe_component(str(ds.SOPInstanceUID))}.dcm"
            tmp = folder / f".{final.name}.tmp"
            staged.append((tmp, final))
            ds.save_as(tmp, enforce_file_format=True)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        tmp.replace(final)
    return folder


def build_outline_safely(
    outline: QueryOutline,
    version: str,
    uid_seed: str,
    when: dt.datetime,
    hits: Sequence[ResultHit] = (),
    per_diagnosis: dict[str, list[ResultHit]] | None = None,
) -> tuple[list[Dataset], str | None]:
    """The outline objects (SEG and its measurement report), or none and the reason.

    The outline is an extra: when its values cannot be encoded (a ``nan``
    SliceThickness, say) the result set goes out without it, and the report says why.
    """
    try:
        objects = build_outline(
            outline, version, uid_seed=uid_seed, now=when, hits=hits, per_diagnosis=per_diagnosis
        )
    except Exception as exc:  # data-driven encoding failures of many kinds
        log.warning("tumour outline not written: %s", exc)
        return [], f"not written ({type(exc).__name__}: {str(exc)[:120]})"
    return objects, None if objects else "not written (the mask does not fit its series)"


def result_set(objects: list[Dataset], outline_objects: list[Dataset]) -> list[Dataset]:
    """One result set in sending order: montage, outline objects, and the report last
    (later results name it as the one they supersede)."""
    return [*objects[:-1], *outline_objects, objects[-1]]


def process_study(
    study_uid: str, source: str, resources: JobResources, settings: Settings
) -> ProcessOutcome:
    """Run the whole query path for one study and deliver the results."""
    require_uid(study_uid)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    store = resources.store
    models = models_for_search(store, resources.models, settings.data_dir / "model-cache")
    version = models.model_version
    with connect(resources.conninfo, autocommit=True) as conn:
        everything = _load_datasets(study_uid, source, conn, settings)
        datasets, skipped = screen_instances(everything, study_uid)
        datasets = [ds for ds in datasets if not _is_own(ds)]
        if not datasets:
            return ProcessOutcome(study_uid, "no-input", version, skipped=len(skipped))
        content_hash = _content_hash(datasets)
        supersedes, already = _previous_result(conn, study_uid, version, content_hash)
        if already:
            log.info("results already sent for this content", extra={"study_uid": study_uid})
            return ProcessOutcome(study_uid, "unchanged", version)
        lap("load_files")

        hits: list[SearchHit] = []
        per_diagnosis: dict[str, list[SearchHit]] = {}
        query_image: np.ndarray | None = None
        outline: QueryOutline | None = None
        try:
            study = load_study([ds for ds in datasets if ds.get("Modality") in ("MR", "SEG")])
            lap("load")
            embedded = embed_study(study, models)
            lap("segment_embed")
            slice_index = int(np.argmax((embedded.mask > 0).sum(axis=(0, 1))))
            query = _query_facts(
                study_uid, study, embedded.facts, slice_index, embedded.mask_source
            )
            patient = str(datasets[0].get("PatientID", "")) or None
            result = store.search(
                embedded.vector,
                TOP_K,
                version,
                per_diagnosis=PER_DIAGNOSIS,
                exclude_patient=patient,
            )
            hits, per_diagnosis = result.hits, result.per_diagnosis
            query_image = tumour_slice_image(study, embedded.mask, MONTAGE_TILE)
            if settings.results.include_seg:
                outline = _outline(study, embedded.mask, embedded.mask_source, datasets)
            lap("search")
        except ConversionError as exc:
            query = QueryFacts(study_instance_uid=study_uid, is_brain_mr=False, reason=str(exc))
        except NoTumourError:
            query = QueryFacts(
                study_instance_uid=study_uid,
                tumour_found=False,
                reason="no tumour was found in this study",
            )
        query = replace(query, extra=(*query.extra, *skipped_facts(datasets, skipped)))
        shown = [*hits, *(h for group in per_diagnosis.values() for h in group)]
        thumbs = store.thumbnails(sorted({h.case_id for h in shown}))
        when = dt.datetime.now().replace(microsecond=0)
        uid_seed = f"{study_uid}|{version}|{content_hash}"
        result_hits = [_result_hit(h) for h in hits]
        result_groups = {d: [_result_hit(h) for h in g] for d, g in per_diagnosis.items()}
        # Every object of the result set is built before any is sent or written: a
        # failure while building leaves nothing half-delivered.
        outline_objects: list[Dataset] = []
        if outline is not None:
            outline_objects, note = build_outline_safely(
                outline, version, uid_seed, when, result_hits, result_groups or None
            )
            if note:
                query = replace(query, extra=(*query.extra, ("tumour outline (SEG)", note)))
            lap("outline")
        objects = build_results(
            query,
            result_hits,
            per_diagnosis=result_groups or None,
            source_datasets=datasets,
            model_version=version,
            query_image=query_image,
            hit_images={cid: _decode_png(png) for cid, png in thumbs.items()},
            supersedes=supersedes,
            uid_seed=uid_seed,
            now=when,
        )
        objects = result_set(objects, outline_objects)
        lap("build")
        sender = sender_from_settings(settings.results, calling_ae_title=settings.dicom.ae_title)
        if sender is not None:
            destination, state = sender.send(objects).destination, "sent"
        else:
            destination = str(save_results(settings.data_dir / "results", study_uid, objects))
            state = "sent"
            log.warning(
                "no results destination configured; results saved to the data directory",
                extra={"study_uid": study_uid},
            )
        lap("send")
        sop_uids = [str(ds.SOPInstanceUID) for ds in objects]
        with conn.transaction():
            conn.execute(
                "INSERT INTO results (study_instance_uid, model_version, content_hash,"
                " series_instance_uid, sop_instance_uids, destination, state, sent_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, now())"
                " ON CONFLICT (study_instance_uid, model_version, content_hash) DO UPDATE SET"
                " sop_instance_uids = excluded.sop_instance_uids, state = excluded.state,"
                " sent_at = now(), destination = excluded.destination",
                (
                    study_uid,
                    version,
                    content_hash,
                    str(objects[-1].SeriesInstanceUID),
                    sop_uids,
                    destination,
                    state,
                ),
            )
            audit(
                conn,
                "process_study",
                "shown_cases",
                study_uid,
                {
                    "case_ids": [h.case_id for h in shown],
                    "model_version": version,
                    "supersedes": supersedes,
                },
            )
    log.info(
        "results delivered",
        extra={"study_uid": study_uid, "objects": len(objects), "destination": destination},
    )
    return ProcessOutcome(
        study_uid,
        "sent" if sender else "saved",
        version,
        sop_uids,
        [h.case_id for h in shown],
        timings,
        len(skipped),
    )
