"""``simcase synth``: the synthetic brain-tumour MRI corpus."""

from pathlib import Path

import typer

from plugin.cli._app import app, not_yet


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Output folder (BraTS 2023 layout)."),
    cases: int = typer.Option(30, "--cases", min=1, help="Number of cases."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
) -> None:
    """Generate synthetic glioma, meningioma and metastasis cases."""
    not_yet("synth", 4)
