"""``simcase convert``: a DICOM study folder to a BraTS-layout case (logic in dicom_conversion)."""

import json
from pathlib import Path

import typer

from dicom_conversion import ConversionError, convert_folder
from plugin.cli._app import app, fail


@app.command()
def convert(
    study_dir: Path = typer.Argument(..., help="Folder of DICOM files (any nesting)."),
    out: Path = typer.Option(..., "--out", help="Output folder (BraTS layout)."),
    json_output: bool = typer.Option(False, "--json", help="Print decisions as JSON."),
    case_id: str | None = typer.Option(
        None, "--case-id", help="Case folder name (default: the StudyInstanceUID)."
    ),
) -> None:
    """Convert a DICOM study to a BraTS-layout NIfTI case on one grid."""
    if not study_dir.is_dir():
        fail(f"{study_dir} is not a folder")
    try:
        result = convert_folder(study_dir, out, case_id=case_id)
    except ConversionError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    for path, reason in result.skipped.items():
        typer.echo(f"warning: skipped {path}: {reason}", err=True)
    if json_output:
        typer.echo(json.dumps(result.summary(), indent=2))
        return
    for decision in result.study.decisions:
        mark = "*" if decision.selected else " "
        typer.echo(
            f"{mark} {decision.sequence.value:<6} {decision.description or '(no description)'}"
            f" - {decision.reason}"
        )
    missing = ", ".join(s.value for s in result.study.missing) or "none"
    typer.echo(f"wrote {result.case_dir} (missing: {missing})")
