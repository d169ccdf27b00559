"""The demo archive of ``simcase run``: synthetic confirmed cases, indexed on first start,
and one synthetic query study as DICOM files to send to the listener."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from indexer.bulk import ImportSummary, discover, index_sources
from indexer.pipeline import load_models
from indexer.store import open_store
from models import ModelError
from models.synth import write_corpus
from plugin.settings import Settings

__all__ = ["DEMO_SEED", "DemoArchive", "ensure_demo_archive"]

log = logging.getLogger(__name__)

#: Seeds of the demo archive and of the demo query (a different corpus: new patients).
DEMO_SEED = 2026
QUERY_SEED = 7331


@dataclass(frozen=True)
class DemoArchive:
    """What the demo set up."""

    cases_indexed: int
    query_dicom: Path | None


def ensure_demo_archive(settings: Settings, conninfo: str) -> DemoArchive | None:
    """Build and index the demo archive when the archive is empty (and demo cases > 0)."""
    if settings.demo.cases == 0:
        return None
    try:
        models = load_models(settings.model_dir)
    except ModelError as exc:
        log.warning("no model weights, the demo archive is not built: %s", exc)
        return None
    root = settings.data_dir / "demo"
    with open_store(conninfo, settings.index.options(), max_size=2) as store:
        have, total = store.coverage(models.model_version)
        indexed = have
        if total == 0:
            archive = root / "archive"
            if not (archive / "cases.csv").is_file():
                log.info("generating %s synthetic demo cases in %s", settings.demo.cases, archive)
                write_corpus(
                    archive,
                    settings.demo.cases,
                    DEMO_SEED,
                    resolution_mm=settings.demo.resolution_mm,
                    workers=2,
                )
            summary = ImportSummary()
            index_sources(discover(archive, summary), store, models, summary=summary)
            if store.active_model_version() != models.model_version:
                store.activate(models.model_version, actor="demo")
            indexed = summary.indexed
            log.info("demo archive indexed: %s cases", summary.indexed)
        query_dicom = root / "query-dicom"
        if not query_dicom.is_dir():
            write_corpus(
                root / "query",
                1,
                QUERY_SEED,
                resolution_mm=settings.demo.resolution_mm,
                dicom_dir=query_dicom,
            )
        return DemoArchive(cases_indexed=indexed, query_dicom=query_dicom)
