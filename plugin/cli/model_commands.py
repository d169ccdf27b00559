"""``simcase train`` and ``simcase evaluate``."""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from plugin.cli._app import app, fail


class Trainable(StrEnum):
    """What ``simcase train`` can train."""

    segmenter = "segmenter"
    embedder = "embedder"
    both = "both"


class Device(StrEnum):
    """Where training runs."""

    cpu = "cpu"
    cuda = "cuda"


def _finite(value: Any) -> Any:
    """NaN/inf become null so the JSON is valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _model_dir(model_dir: Path | None) -> Path | None:
    if model_dir is not None:
        return model_dir
    from plugin.settings import get_settings

    return get_settings().model_dir


@app.command()
def train(
    what: Trainable = typer.Argument(
        ..., help="segmenter or embedder (from --data), or both (from a generator, on the fly)"
    ),
    data: list[Path] = typer.Option(
        [], "--data", help="Labelled BraTS-layout training folder (repeat for several)."
    ),
    generator: str = typer.Option("a", "--generator", help="both: generator a or b."),
    cases: int = typer.Option(1000, "--cases", min=3, help="both: cases to generate."),
    workers: int = typer.Option(1, "--workers", min=1, help="both: generating processes."),
    budget: float | None = typer.Option(
        None,
        "--minutes",
        min=1.0,
        help="both: a time budget (generation 35 %, segmenter 35 %, embedder 30 %); "
        "epochs are set from a measured step time.",
    ),
    out: Path = typer.Option(Path("runs/weights"), "--out", help="Where the weights go."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Epochs (default per model)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (training is deterministic)."),
    device: Device = typer.Option(Device.cpu, "--device", help="cpu or cuda."),
    threads: int = typer.Option(2, "--threads", min=1, help="CPU threads."),
    work_dir: Path | None = typer.Option(
        None, "--work-dir", help="Checkpoints (default: OUT/<model>-work)."
    ),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue a checkpoint."),
    max_cases: int | None = typer.Option(
        None, "--max-cases", min=1, help="Segmenter: use the first N cases only."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars."),
    context: bool = typer.Option(
        True, "--context/--no-context", help="Embedder: use the whole-brain context planes."
    ),
) -> None:
    """Train the segmenter or the embedder; writes <model>.{onnx,pt,json,md} into --out."""
    from models import ModelError
    from models.training import EmbedderConfig, SegmenterConfig
    from models.training.pipeline import train_embedder_folder, train_segmenter_folder

    for folder in data:
        if not folder.is_dir():
            fail(f"training folder {folder} does not exist")
    if what is not Trainable.both and not data:
        fail("--data is needed to train the segmenter or the embedder alone")
    command = "simcase " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    work = work_dir or out / f"{what.value}-work"
    try:
        if what is Trainable.both:
            _train_both(
                out,
                work,
                generator,
                cases,
                workers,
                device.value,
                threads,
                epochs,
                seed,
                budget,
                progress,
            )
            return
        if what is Trainable.embedder:
            e_config = EmbedderConfig(seed=seed, threads=threads, context=context)
            if epochs is not None:
                e_config = replace(e_config, epochs=epochs)
            card = train_embedder_folder(
                data,
                out,
                e_config,
                work_dir=work,
                resume=resume,
                progress=progress,
                command=command,
                device=device.value,
            )
        else:
            s_config = SegmenterConfig(seed=seed, threads=threads)
            if epochs is not None:
                s_config = replace(s_config, epochs=epochs)
            card = train_segmenter_folder(
                data,
                out,
                s_config,
                work_dir=work,
                max_cases=max_cases,
                resume=resume,
                progress=progress,
                command=command,
                device=device.value,
            )
    except ModelError as error:
        fail(str(error))
    typer.echo(f"{card.model_version} written to {out} (sha256 {card.onnx_sha256})")


def _train_both(
    out: Path,
    work: Path,
    generator: str,
    cases: int,
    workers: int,
    device: str,
    threads: int,
    epochs: int | None,
    seed: int,
    minutes: float | None,
    progress: bool,
) -> None:
    from models.training import EmbedderConfig, SegmenterConfig
    from models.training.synthetic_recipe import finish_recipe, run_recipe

    if generator not in ("a", "b"):
        fail(f"--generator must be a or b, not {generator!r}")
    seg = SegmenterConfig(threads=threads)
    emb = EmbedderConfig(threads=threads)
    if epochs is not None:
        seg, emb = replace(seg, epochs=epochs), replace(emb, epochs=epochs)
    seconds = None if minutes is None else minutes * 60.0
    run_recipe(
        work,
        cases=cases,
        seed=seed,
        # Validation: a fifth of the training count (3 to 120 cases) from each generator.
        valid_cases=max(3, min(120, cases // 5)),
        valid_generators=("a", "b"),
        generator=generator,
        workers=workers,
        device=device,
        segmenter_config=seg,
        embedder_config=emb,
        generation_seconds=None if seconds is None else 0.35 * seconds,
        segmenter_seconds=None if seconds is None else 0.35 * seconds,
        embedder_seconds=None if seconds is None else 0.25 * seconds,
        progress=progress,
    )
    segmenter, embedder = finish_recipe(work, out)
    typer.echo(f"{segmenter.model_version} and {embedder.model_version} written to {out}")


@app.command()
def evaluate(
    data: Path = typer.Option(..., "--data", help="Labelled BraTS-layout folder."),
    json_output: bool = typer.Option(False, "--json", help="JSON on stdout."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the t-SNE view as PNG."),
    model_dir: Path | None = typer.Option(
        None, "--model-dir", help="Weights folder (default: SIMCASE_MODEL_DIR or shipped)."
    ),
    use_given_masks: bool = typer.Option(
        False, "--use-given-masks", help="Queries use the folder's seg files, not the segmenter."
    ),
    threads: int = typer.Option(2, "--threads", min=1, help="CPU threads."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
    kinds: bool = typer.Option(
        False, "--by-kind", help="Also score each hard-case kind named in truth.json."
    ),
) -> None:
    """Retrieval quality of the current model (leave-one-patient-out), with baselines."""
    import torch

    from models import ModelError, OnnxEmbedder, OnnxSegmenter
    from models.evaluation.evaluate import evaluate_folder

    torch.set_num_threads(threads)
    directory = _model_dir(model_dir)
    try:
        embedder = OnnxEmbedder.load(directory, threads=threads)
        segmenter = None if use_given_masks else OnnxSegmenter.load(directory, threads=threads)
        result = evaluate_folder(
            data,
            embedder,
            segmenter,
            use_given_masks=use_given_masks,
            plot=plot,
            progress=progress and not json_output,
            kinds=kinds,
        )
    except ModelError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot read {data}: {error}")
    result = _finite(result)
    if json_output:
        typer.echo(json.dumps(result, indent=2))
        return
    metrics = result["metrics"]
    typer.echo(f"model {result['model_version']} on {result['n_cases']} cases")
    typer.echo(
        f"  mAP@R {metrics['map_at_r']:.3f}  P@1 {metrics['p_at_1']:.3f}  "
        f"P@5 {metrics['p_at_5']:.3f}  P@10 {metrics['p_at_10']:.3f}"
    )
    for diagnosis, scores in metrics["per_diagnosis"].items():
        typer.echo(f"  {diagnosis:<12} mAP@R {scores['map_at_r']:.3f}  P@5 {scores['p_at_5']:.3f}")
    for name, scores in result["baselines"].items():
        typer.echo(f"  baseline {name:<22} mAP@R {scores['map_at_r']:.3f}")
    agreement = metrics["attributes"]["agreement_top5"]
    chance = metrics["attributes"]["random_agreement_top5"]
    typer.echo("  top 5 agree with the query (random):")
    for name, value in agreement.items():
        if value is not None:
            typer.echo(f"    {name:<12} {value:.2f} ({chance[name]:.2f})")
    within = metrics["within_diagnosis"]
    typer.echo(
        "  within the diagnosis, top 5: centroid "
        f"{within['median_centroid_mm_top5']:.0f} mm "
        f"(random {within['random_median_centroid_mm_top5']:.0f}), |log volume ratio| "
        f"{within['median_volume_log_ratio_top5']:.2f} "
        f"(random {within['random_median_volume_log_ratio_top5']:.2f}), enhancement "
        f"{within['agreement_top5']['enhancement']:.2f}, extra-axial "
        f"{within['agreement_top5']['extra_axial'] or float('nan'):.2f}"
    )
    for kind, scores in metrics.get("by_kind", {}).items():
        typer.echo(
            f"  kind {kind:<28} {int(scores['cases']):>4} cases  mAP@R {scores['map_at_r']:.3f}"
        )
    dice = result["segmentation"]["dice_whole_tumour"]
    if dice is not None:
        typer.echo(f"  segmentation Dice (whole tumour) {dice:.3f}")
