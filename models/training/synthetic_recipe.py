"""Train both networks from a generator, on the fly, on one machine (CPU or GPU).

``python -m models.training.synthetic_recipe --out DIR --cases N --workers W --device cuda``
generates the training cases in ``W`` worker processes (no files), trains the segmenter
and then the embedder with domain randomisation, and writes ``segmenter.pt``,
``embedder.pt`` and ``recipe.json`` (configuration, data, per-epoch history, hardware).
:func:`finish_recipe` turns those into shipped-format weights (ONNX + model cards) with
the local torch, so the exported graphs and their sha256 come from one environment.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from dicom_conversion import Diagnosis
from models.networks.embedding_net import EmbeddingNet
from models.training.crops import CropSet
from models.training.embedder_training import EmbedderConfig, train_embedder
from models.training.embedder_training import seconds_per_step as emb_seconds_per_step
from models.training.recipe_steps import (
    collect,
    crops_digest,
    dice_by_source,
    epochs_for,
    generate,
    hardware,
    train_segmenter_within,
)
from models.training.recipe_weights import TRAINING_KEYS, finish_recipe, write_weights
from models.training.segmenter_training import SegmenterConfig, VolumeSet
from models.training.validation import validation_scorer

__all__ = [
    "TRAINING_KEYS",
    "crops_digest",
    "dice_by_source",
    "epochs_for",
    "finish_recipe",
    "generate",
    "hardware",
    "run_recipe",
    "train_segmenter_within",
    "write_weights",
]

logger = logging.getLogger(__name__)


def run_recipe(
    out_dir: Path,
    *,
    cases: int,
    seed: int = 11,
    valid_cases: int = 120,
    valid_seed: int = 2011,
    generator: str = "a",
    valid_generators: tuple[str, ...] = ("a",),
    workers: int = 1,
    device: str = "cpu",
    segmenter_config: SegmenterConfig | None = None,
    embedder_config: EmbedderConfig | None = None,
    generation_seconds: float | None = None,
    segmenter_seconds: float | None = None,
    embedder_seconds: float | None = None,
    baseline_seconds: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate, train both networks, write ``segmenter.pt``, ``embedder.pt`` and
    ``recipe.json`` into ``out_dir``; returns the recipe record.

    With time budgets (seconds), generation stops early and the number of epochs of
    each network is set from a measured step time, so that one run fits a lease of a
    GPU; the epochs and case counts used are recorded, and passing them back gives the
    same training again.
    """
    seg_config = segmenter_config or SegmenterConfig()
    emb_config = embedder_config or EmbedderConfig()
    began = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    valid: dict[str, tuple[CropSet, VolumeSet, list[str], list[str]]] = {}
    for name in valid_generators:
        source = generate(
            valid_seed, valid_cases, None, generator=name, workers=workers, use_segmenter=False
        )
        valid[name] = collect(source)
    deadline = None if generation_seconds is None else began + generation_seconds
    train_source = generate(seed, cases, deadline, generator=generator, workers=workers)
    made = len(train_source)
    train_crops, train_volumes, _, _ = collect(train_source)
    del train_source
    generated = time.perf_counter() - began
    logger.info("recipe: %d training cases generated in %.0f s", made, generated)

    # Validation Dice once at the end (per epoch it costs a pass over every volume).
    segmenter, seg_config, seg_history = train_segmenter_within(
        train_volumes,
        seg_config,
        out_dir,
        seconds=segmenter_seconds,
        device=device,
        progress=progress,
    )
    seg_valid = dice_by_source(segmenter, {name: parts[1] for name, parts in valid.items()}, device)
    del train_volumes

    scorers = {
        name: validation_scorer(crops, diagnoses, patients)
        for name, (crops, _, diagnoses, patients) in valid.items()
    }

    def hook(epoch: int, net: EmbeddingNet, record: dict[str, float]) -> dict[str, float]:
        return {f"valid_{name}_map_at_r": score(net).map_at_r for name, score in scorers.items()}

    step = emb_seconds_per_step(train_crops, emb_config, device)
    batches = -(-len(train_crops) // (emb_config.per_class * len(Diagnosis.labels())))
    emb_config = replace(
        emb_config, epochs=epochs_for(embedder_seconds, step * 1.1, batches, emb_config.epochs)
    )
    logger.info("recipe: embedder %.3f s/step, %d epochs", step, emb_config.epochs)
    embedder, emb_history = train_embedder(
        train_crops,
        emb_config,
        out_dir / "embedder-work",
        resume=False,
        progress=progress,
        on_epoch=hook,
        device=device,
    )
    torch.save(embedder.state_dict(), out_dir / "embedder.pt")
    baseline: dict[str, Any] | None = None
    if baseline_seconds is not None:
        # The previous recipe on the same data, for the validation comparison: the
        # generator's images only, diagnosis losses only.
        base_config = replace(
            emb_config, randomised_share=0.0, instance_weight=0.0, attribute_weight=0.0
        )
        step = emb_seconds_per_step(train_crops, base_config, device)
        base_config = replace(
            base_config,
            epochs=epochs_for(baseline_seconds, step * 1.1, batches, base_config.epochs),
        )
        base_net, base_history = train_embedder(
            train_crops,
            base_config,
            out_dir / "baseline-work",
            resume=False,
            progress=progress,
            on_epoch=hook,
            device=device,
        )
        torch.save(base_net.state_dict(), out_dir / "embedder-baseline.pt")
        baseline = {"config": asdict(base_config), "history": base_history}
    record: dict[str, Any] = {
        "command": (
            f"python -m models.training.synthetic_recipe --cases {made} --seed {seed} "
            f"--generator {generator} --valid-cases {valid_cases} --valid-seed {valid_seed} "
            f"--valid-generators {','.join(valid_generators)} --workers {workers} "
            f"--device {device} --segmenter-epochs {seg_config.epochs} "
            f"--segmenter-batch {seg_config.batch_size} "
            f"--embedder-epochs {emb_config.epochs} --per-class {emb_config.per_class}"
        ),
        "data": {
            "generator": generator,
            "seed": seed,
            "cases": made,
            "resolution_mm": 2.0,
            "crops": len(train_crops),
            "crops_sha256": crops_digest(train_crops),
            "validation": {
                "seed": valid_seed,
                "cases": valid_cases,
                "generators": list(valid_generators),
            },
        },
        "hardware": hardware(device),
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
        "segmenter": {
            "config": asdict(seg_config),
            "history": seg_history,
            "valid_dice_whole_tumour": seg_valid,
        },
        "embedder": {
            "config": asdict(emb_config),
            "history": emb_history,
            "architecture": embedder.architecture(),
        },
        "embedder_baseline": baseline,
        "seconds": {
            "generation": round(generated, 1),
            "total": round(time.perf_counter() - began, 1),
        },
    }
    (out_dir / "recipe.json").write_text(json.dumps(record, indent=2, default=float))
    return record


def main(argv: list[str] | None = None) -> None:
    """The recipe from the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--generator", default="a")
    parser.add_argument("--valid-cases", type=int, default=120)
    parser.add_argument("--valid-seed", type=int, default=2011)
    parser.add_argument("--valid-generators", default="a")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segmenter-epochs", type=int, default=SegmenterConfig.epochs)
    parser.add_argument("--segmenter-batch", type=int, default=SegmenterConfig.batch_size)
    parser.add_argument("--embedder-epochs", type=int, default=EmbedderConfig.epochs)
    parser.add_argument("--per-class", type=int, default=EmbedderConfig.per_class)
    parser.add_argument("--generation-seconds", type=float, default=None)
    parser.add_argument("--segmenter-seconds", type=float, default=None)
    parser.add_argument("--embedder-seconds", type=float, default=None)
    parser.add_argument("--baseline-seconds", type=float, default=None)
    parser.add_argument("--finetune-from", type=Path, default=None)
    parser.add_argument("--segmenter-from", type=Path, default=None)
    parser.add_argument("--segmenter-lr", type=float, default=SegmenterConfig.lr)
    parser.add_argument("--sources", default="a:31:300,b:41:240")
    parser.add_argument("--valid-sources", default="")
    parser.add_argument("--lr", type=float, default=EmbedderConfig.lr)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    seg = replace(
        SegmenterConfig(),
        epochs=args.segmenter_epochs,
        batch_size=args.segmenter_batch,
        threads=args.threads,
    )
    emb = replace(
        EmbedderConfig(),
        epochs=args.embedder_epochs,
        per_class=args.per_class,
        threads=args.threads,
        lr=args.lr,
    )
    if args.finetune_from is not None or args.segmenter_from is not None:
        from models.training.finetune_recipe import finetune, parse_sources

        finetune(
            args.out,
            sources=parse_sources(args.sources),
            embedder_from=args.finetune_from,
            segmenter_from=args.segmenter_from,
            embedder_config=emb,
            segmenter_config=replace(seg, lr=args.segmenter_lr),
            valid_sources=parse_sources(args.valid_sources),
            workers=args.workers,
            device=args.device,
            generation_seconds=args.generation_seconds,
            segmenter_seconds=args.segmenter_seconds,
            progress=not args.no_progress,
        )
        return
    record = run_recipe(
        args.out,
        cases=args.cases,
        seed=args.seed,
        valid_cases=args.valid_cases,
        valid_seed=args.valid_seed,
        generator=args.generator,
        valid_generators=tuple(g for g in args.valid_generators.split(",") if g),
        workers=args.workers,
        device=args.device,
        segmenter_config=seg,
        embedder_config=emb,
        generation_seconds=args.generation_seconds,
        segmenter_seconds=args.segmenter_seconds,
        embedder_seconds=args.embedder_seconds,
        baseline_seconds=args.baseline_seconds,
        progress=not args.no_progress,
    )
    logger.info("recipe done: %s", json.dumps({k: record[k] for k in ("hardware", "seconds")}))


if __name__ == "__main__":
    main()
