"""``simcase index``, ``simcase search`` and ``simcase reindex``."""

from pathlib import Path

import typer

from plugin.cli._app import app, not_yet


@app.command()
def index(
    path: Path | None = typer.Argument(None, help="BraTS-layout folder or DICOM tree."),
    pacs: str | None = typer.Option(None, "--pacs", help="DICOMweb URL of a PACS."),
) -> None:
    """Index archive cases (bulk, with a progress bar)."""
    not_yet("index", 6)


@app.command()
def search(
    path: Path = typer.Argument(..., help="A DICOM study folder or a BraTS-layout case."),
    k: int = typer.Option(5, "--k", min=1),
    per_diagnosis: int = typer.Option(0, "--per-diagnosis", min=0),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Search the archive for cases similar to a study."""
    not_yet("search", 6)


@app.command()
def reindex() -> None:
    """Re-embed every case with the current model version, without downtime."""
    not_yet("reindex", 6)
