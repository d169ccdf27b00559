"""``simcase index``, ``simcase search`` and ``simcase reindex``."""

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from dicom_conversion import ConversionError
from indexer.bulk import ImportSummary, discover, index_sources, load_source
from indexer.database import create_pool
from indexer.errors import DatabaseUnavailableError, IndexerError
from indexer.job_status import get_job
from indexer.jobs import create_job_app, enqueue_reindex
from indexer.pacs_source import discover_pacs
from indexer.pipeline import load_models
from indexer.search_service import SearchRequest, search_study
from indexer.store import SearchFilters, open_store
from indexer.worker import run_queued_jobs
from models.errors import ModelError
from plugin.cli._app import app, fail
from plugin.jobs import TASKS, worker_resources
from plugin.runtime import database
from plugin.settings import get_settings

console = Console(stderr=True)


@app.command()
def index(
    path: Path | None = typer.Argument(
        None, help="BraTS-layout folder with cases.csv, or a folder tree of DICOM studies."
    ),
    labels: Path | None = typer.Option(
        None, "--labels", help="CSV of diagnoses keyed by study_instance_uid or accession_number."
    ),
    pacs: str | None = typer.Option(None, "--pacs", help="DICOMweb URL of a PACS to index."),
    pacs_filter: list[str] = typer.Option(
        [], "--filter", help="QIDO-RS filter for --pacs, e.g. ModalitiesInStudy=MR (repeatable)."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel processes."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Index archive cases in bulk (resumable: cases already indexed are skipped)."""
    if (path is None) == (pacs is None):
        fail("give either a PATH or --pacs URL")
    settings = get_settings()
    summary = ImportSummary()
    try:
        if path is not None:
            if not path.is_dir():
                fail(f"{path} is not a folder")
            sources = discover(path, summary, labels)
        else:
            assert pacs is not None
            cache = settings.data_dir / "pacs-cache"
            sources = discover_pacs(pacs, cache, summary, pacs_filter, labels)
    except IndexerError as exc:
        fail(str(exc))
    if not sources:
        _report(summary, json_output, None)
        fail(
            f"0 cases to index in {path or pacs}"
            + (" (every one skipped)" if summary.skipped else "")
        )
    with database(settings) as conninfo:  # before the models: an unreachable server fails fast
        models = load_models(settings.model_dir)
        with open_store(conninfo, settings.index.options(), max_size=2) as store:
            with Progress(
                TextColumn("[bold]indexing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[case]}"),
                console=console,
                disable=json_output,
            ) as bar:
                task = bar.add_task("index", total=len(sources), case="")

                def progress(done: int, total: int, case_id: str) -> None:
                    bar.update(task, completed=done, total=total, case=case_id)

                index_sources(
                    sources,
                    store,
                    models,
                    workers=workers,
                    model_dir=settings.model_dir,
                    summary=summary,
                    progress=progress,
                )
            have, total = store.coverage(models.model_version)
            if store.active_model_version() != models.model_version and have == total:
                store.activate(models.model_version, actor="cli-index")
    _report(summary, json_output, models.model_version)
    if summary.malformed_lines:
        lines = ", ".join(map(str, summary.malformed_lines[:10]))
        more = ", ..." if len(summary.malformed_lines) > 10 else ""
        fail(
            f"{summary.malformed_file}: {len(summary.malformed_lines)} malformed line(s)"
            f" ({lines}{more});"
            " their cases were not indexed (the others were): fix them and run again"
        )
    if (summary.failed or summary.skipped) and not summary.indexed and not summary.already_indexed:
        fail("0 cases indexed")


def _report(summary: ImportSummary, json_output: bool, model_version: str | None) -> None:
    """The import's summary on stdout: JSON, or one line and a line per case not indexed."""
    if json_output:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
        return
    typer.echo(
        f"indexed {summary.indexed}, already indexed {summary.already_indexed}, "
        f"failed {len(summary.failed)}, skipped {len(summary.skipped)}"
        + (f" (model {model_version})" if model_version else "")
    )
    for case_id, reason in summary.failed + summary.skipped:
        typer.echo(f"  {case_id}: {reason}")


def _print_results(result: dict[str, object]) -> None:
    table = Table(title=f"similar cases (model {result['model_version']}) — not for diagnostic use")
    for column in ("rank", "case", "diagnosis", "similarity", "volume ml", "location"):
        table.add_column(column)
    results = result["results"]
    assert isinstance(results, list)
    for hit in results:
        tumour = hit.get("tumour") or {}
        table.add_row(
            str(hit["rank"]),
            hit["case_id"],
            hit["diagnosis"],
            f"{hit['similarity']:.3f}",
            f"{tumour.get('volume_ml', float('nan')):.1f}",
            f"{tumour.get('hemisphere', '?')} {tumour.get('lobe', '')}",
        )
    Console().print(table)


@app.command()
def search(
    path: Path = typer.Argument(..., help="A DICOM study folder or a BraTS-layout case folder."),
    k: int = typer.Option(5, "--k", min=1, help="Overall number of results."),
    per_diagnosis: int = typer.Option(0, "--per-diagnosis", min=0, help="Top n per diagnosis."),
    diagnosis: list[str] = typer.Option([], "--diagnosis", help="Only these diagnoses."),
    exclude_patient: str | None = typer.Option(
        None, "--exclude-patient", help="Patient id whose cases must not be returned."
    ),
    use_given_mask: bool = typer.Option(
        True, "--use-given-mask/--segment", help="Use a SEG/seg file in the input if present."
    ),
    json_output: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """Search the archive for cases similar to a study."""
    settings = get_settings()
    if not path.exists():
        fail(f"{path} does not exist")
    request = SearchRequest(
        k=k,
        per_diagnosis=per_diagnosis,
        filters=SearchFilters(diagnoses=diagnosis or None),
        exclude_patient=exclude_patient,
        use_given_mask=use_given_mask,
    )
    with database(settings) as conninfo:  # first: an unreachable server fails fast
        try:
            study = load_source(str(path))
        except Exception as exc:
            fail(f"cannot read {path}: {exc}")
        models = load_models(settings.model_dir)
        with open_store(conninfo, settings.index.options(), max_size=1) as store:
            try:
                result = search_study(study, store, models, request)
            except DatabaseUnavailableError:
                raise  # the command group's one line
            except (IndexerError, ModelError, ConversionError) as exc:
                fail(str(exc))
    if json_output:
        typer.echo(json.dumps(result, indent=2, default=str))
    else:
        _print_results(result)


@app.command()
def reindex(
    case_id: str | None = typer.Option(None, "--case", help="Only this case."),
) -> None:
    """Re-embed every case with the current model version, without downtime."""
    settings = get_settings()
    with database(settings) as conninfo:
        jobs = create_job_app(conninfo, tasks=TASKS)
        with jobs.open():
            job_id = enqueue_reindex(jobs, conninfo, case_id)
        console.print(f"reindex job {job_id} queued; running it here")
        run_queued_jobs(worker_resources(settings, conninfo), TASKS)
        pool = create_pool(conninfo, max_size=1)
        with pool.connection() as conn:
            status = get_job(conn, job_id)
        pool.close()
    if status is None:
        fail(f"job {job_id} vanished")
    typer.echo(
        json.dumps(
            {
                "job_id": status.job_id,
                "state": status.state,
                "done": status.done,
                "total": status.total,
                "errors": status.errors,
            },
            indent=2,
        )
    )
    if status.state == "failed":
        raise typer.Exit(1)
