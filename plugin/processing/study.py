"""``process_study``: the job's entry, wiring the real services to the named steps."""

from __future__ import annotations

from indexer.database import connect
from indexer.jobs import JobResources
from indexer.pipeline import models_for_search
from indexer.results_log import PostgresResultsLog
from plugin.dicom.uids import require_uid
from plugin.processing.load import study_source
from plugin.processing.steps import ProcessOutcome, StudyServices, answer_study
from plugin.results.folder import FolderSender
from plugin.results.sender import ResultSender, sender_from_settings
from plugin.settings import Settings

__all__ = ["process_study", "result_sender"]


def result_sender(settings: Settings) -> ResultSender:
    """The configured destination (C-STORE or STOW-RS), else the data directory's
    results folder."""
    configured = sender_from_settings(settings.results, calling_ae_title=settings.dicom.ae_title)
    return configured or FolderSender(settings.data_dir / "results")


def process_study(
    study_instance_uid: str, source: str, resources: JobResources, settings: Settings
) -> ProcessOutcome:
    """Run the whole query path for one study and deliver the results."""
    require_uid(study_instance_uid)
    store = resources.store
    models = models_for_search(store, resources.models, settings.data_dir / "model-cache")
    with connect(resources.conninfo, autocommit=True) as conn:
        services = StudyServices(
            source=study_source(source, conn, settings.pacs.dicomweb_url),
            store=store,
            models=models,
            sender=result_sender(settings),
            results=PostgresResultsLog(conn),
            include_seg=settings.results.include_seg,
        )
        return answer_study(study_instance_uid, services)
