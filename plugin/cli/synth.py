"""``simcase synth``: the synthetic brain-tumour MRI corpus."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import typer

from dicom_conversion import Diagnosis
from plugin.cli._app import app, fail

__all__ = ["synth"]


#: Generator A's default contrast jitter (models.synth.contrast.DEFAULT_CONTRAST_JITTER,
#: written out because the CLI imports models.synth lazily; a test keeps them equal).
A_DEFAULT_CONTRAST_JITTER = 0.08


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Output folder (BraTS 2023 layout)."),
    cases: int = typer.Option(30, "--cases", min=1, help="Number of cases."),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed."),
    resolution: float = typer.Option(
        1.0, "--resolution", help="Isotropic voxel size in mm (same 240x240x155 mm field of view)."
    ),
    types: str = typer.Option(
        ",".join(Diagnosis.labels()), "--types", help="Comma-separated tumour types."
    ),
    dicom: Path | None = typer.Option(
        None, "--dicom", help="Also write every case as a DICOM MR study (with SEG) here."
    ),
    preview: Path | None = typer.Option(
        None, "--preview", help="Write a PNG montage of a few cases of each type."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel processes."),
    contrast_jitter: float | None = typer.Option(
        None,
        "--contrast-jitter",
        min=0.0,
        max=0.3,
        help="Relative range of the per-case tissue intensities (held-out corpora: wider); "
        "generator a only, default 0.08.",
    ),
    hard_rate: float = typer.Option(
        0.15,
        "--hard-rate",
        min=0.0,
        max=1.0,
        help="Share of patients with a deliberately hard variant (training corpora: higher).",
    ),
    generator: str = typer.Option(
        "a",
        "--generator",
        help="a: the training generator (models.synth); b: the independent second generator "
        "(models.synth_b, written from docs/synthetic-spec.md alone); c: the third, clean-room "
        "generator with a procedural anatomy (models.synth_c, docs/generator-c.md).",
    ),
) -> None:
    """Generate synthetic glioma, meningioma and metastasis cases."""
    if generator in ("b", "c"):
        _refuse_a_only(generator, types, dicom, preview, contrast_jitter)
        _synth_nifti_only(generator, out, cases, seed, resolution, hard_rate, workers)
        return
    if generator != "a":
        fail(f"--generator must be a, b or c, got {generator!r}")
    from models.synth import SynthesisError, write_corpus

    try:
        summary = write_corpus(
            out,
            cases,
            seed,
            resolution_mm=resolution,
            types=[t for t in types.split(",") if t.strip()],
            workers=workers,
            dicom_dir=dicom,
            preview=preview,
            contrast_jitter=(
                A_DEFAULT_CONTRAST_JITTER if contrast_jitter is None else contrast_jitter
            ),
            hard_rate=hard_rate,
        )
    except SynthesisError as exc:
        fail(str(exc))
    per_case = summary.seconds / max(len(summary.case_ids), 1)
    typer.echo(
        f"{len(summary.case_ids)} cases in {out} ({summary.seconds:.1f} s, {per_case:.2f} s/case); "
        f"{out / 'cases.csv'}, {out / 'truth.json'}"
    )
    if summary.dicom_dir is not None:
        typer.echo(f"DICOM studies in {summary.dicom_dir}")
    if summary.preview is not None:
        typer.echo(f"preview: {summary.preview}")


def _synth_nifti_only(
    generator: str,
    out: Path,
    cases: int,
    seed: int,
    resolution: float,
    hard_rate: float,
    workers: int,
) -> None:
    """``simcase synth --generator b|c``: the independent generators (NIfTI only)."""
    write_corpus: Callable[..., object]
    if generator == "b":
        from models.synth_b import SynthBError as GeneratorError
        from models.synth_b import write_corpus
    else:
        from models.synth_c import SynthCError as GeneratorError  # type: ignore[assignment]
        from models.synth_c import write_corpus

    started = time.perf_counter()
    try:
        write_corpus(
            out,
            cases=cases,
            seed=seed,
            resolution_mm=resolution,
            workers=workers,
            hard_rate=hard_rate,
        )
    except GeneratorError as exc:
        fail(str(exc))
    seconds = time.perf_counter() - started
    typer.echo(
        f"{cases} cases (generator {generator}) in {out} ({seconds:.1f} s, "
        f"{seconds / cases:.2f} s/case); {out / 'cases.csv'}, {out / 'truth.json'}"
    )


def _refuse_a_only(
    generator: str,
    types: str,
    dicom: Path | None,
    preview: Path | None,
    contrast_jitter: float | None,
) -> None:
    """Fail on the options only generator a has (b and c write NIfTI only, all diagnoses)."""
    refused = [
        name
        for name, given in (
            ("--dicom", dicom is not None),
            ("--preview", preview is not None),
            ("--contrast-jitter", contrast_jitter is not None),
            (
                "--types",
                {t.strip() for t in types.split(",") if t.strip()} != set(Diagnosis.labels()),
            ),
        )
        if given
    ]
    if refused:
        fail(
            f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} not supported by "
            f"--generator {generator} (it always writes the three diagnoses, balanced, as NIfTI "
            "only)"
        )
