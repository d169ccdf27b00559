"""``simcase train`` and ``simcase evaluate``."""

from pathlib import Path

import typer

from plugin.cli._app import app, not_yet


@app.command()
def train(
    what: str = typer.Argument(..., help="segmenter or embedder"),
    data: Path = typer.Option(..., "--data", help="BraTS-layout training folder."),
) -> None:
    """Train the segmenter or the embedder."""
    not_yet("train", 5)


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Labelled BraTS-layout folder."),
    json_output: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """Retrieval quality of the current model, with baselines."""
    not_yet("evaluate", 5)
