"""``simcase convert``: a DICOM study folder to a BraTS-layout case."""

from pathlib import Path

import typer

from plugin.cli._app import app, not_yet


@app.command()
def convert(
    study_dir: Path = typer.Argument(..., help="Folder of DICOM files (any nesting)."),
    out: Path = typer.Option(..., "--out", help="Output folder (BraTS layout)."),
    json_output: bool = typer.Option(False, "--json", help="Print decisions as JSON."),
) -> None:
    """Convert a DICOM study to a BraTS-layout NIfTI case on one grid."""
    not_yet("convert", 3)
