"""Fine-tune shipped networks on cases drawn from several generators, with domain
randomisation (one run, CPU or GPU).

``python -m models.training.synthetic_recipe --finetune-from EMBEDDER.pt`` and/or
``--segmenter-from SEGMENTER.pt`` with ``--sources a:31:300,b:41:240`` generate the
cases in worker processes (no files), fine-tune each network that was given a starting
point, and write its ``.pt`` and ``recipe.json`` (sources with the number of cases
actually made, configuration, history, validation Dice before and after, hardware).
:func:`finish_finetune` turns the run into shipped-format weights (ONNX + model cards).
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from dicom_conversion import Diagnosis
from models.networks.embedding_net import EmbeddingNet
from models.networks.segmentation_net import build_segmentation_net
from models.onnx_export import export_embedder, export_segmenter
from models.registry import ModelCard, file_sha256
from models.training.crops import crop_set_of
from models.training.embedder_training import EmbedderConfig, train_embedder
from models.training.segmenter_training import (
    SegmenterConfig,
    VolumeSet,
    segmenter_config_of,
    volume_set_of,
)
from models.training.synthetic_recipe import (
    TRAINING_KEYS,
    crops_digest,
    dice_by_source,
    generate,
    hardware,
    train_segmenter_within,
    write_weights,
)
from models.training.synthetic_source import SyntheticCaseData

__all__ = ["Source", "finetune", "finish_finetune", "parse_sources"]

logger = logging.getLogger(__name__)

#: ``(generator, seed, cases)``: cases 0..cases-1 of one generated corpus.
Source = tuple[str, int, int]


def parse_sources(text: str) -> list[Source]:
    """``"a:31:300,b:41:240"`` -> ``[("a", 31, 300), ("b", 41, 240)]``."""
    out: list[Source] = []
    for part in text.split(","):
        if not part.strip():
            continue
        generator, seed, count = part.strip().split(":")
        out.append((generator, int(seed), int(count)))
    return out


def _made(
    sources: list[Source],
    budget: float | None,
    *,
    workers: int,
    crops: bool,
    volumes: bool,
) -> tuple[list[SyntheticCaseData], list[Source]]:
    """The cases of every source (each gets an equal share of ``budget`` seconds) and
    the sources as actually made (a source cut short records the count it reached)."""
    cases: list[SyntheticCaseData] = []
    made: list[Source] = []
    for generator, seed, count in sources:
        deadline = None if budget is None else time.perf_counter() + budget / len(sources)
        part = generate(
            seed,
            count,
            deadline,
            generator=generator,
            workers=workers,
            crops=crops,
            volumes=volumes,
            use_segmenter=crops,
        )
        cases += part
        made.append((generator, seed, len(part)))
        logger.info("fine-tune: %d cases of generator %s seed %d", len(part), generator, seed)
    return cases, made


def _finetune_segmenter(
    volumes: VolumeSet,
    valid: dict[str, VolumeSet],
    initial: Path,
    config: SegmenterConfig,
    out_dir: Path,
    *,
    seconds: float | None,
    device: str,
    progress: bool,
) -> dict[str, Any]:
    state = torch.load(initial, map_location="cpu", weights_only=True)
    start = build_segmentation_net(config.channels)
    start.load_state_dict(state)
    before = dice_by_source(start, valid, device)
    net, config, history = train_segmenter_within(
        volumes, config, out_dir, seconds=seconds, device=device, progress=progress, initial=state
    )
    return {
        "config": asdict(config),
        "history": history,
        "initial_sha256": file_sha256(initial),
        "valid_dice_whole_tumour": {"before": before, "after": dice_by_source(net, valid, device)},
    }


def _finetune_embedder(
    cases: list[SyntheticCaseData],
    initial: Path,
    config: EmbedderConfig,
    out_dir: Path,
    *,
    device: str,
    progress: bool,
) -> dict[str, Any]:
    crops = crop_set_of(
        ((c.crops, c.diagnosis, c.patient_id) for c in cases if c.crops), Diagnosis.labels()
    )
    net, history = train_embedder(
        crops,
        config,
        out_dir / "embedder-work",
        resume=False,
        progress=progress,
        device=device,
        initial=torch.load(initial, map_location="cpu", weights_only=True),
    )
    torch.save(net.state_dict(), out_dir / "embedder.pt")
    return {
        "config": asdict(config),
        "history": history,
        "architecture": net.architecture(),
        "initial_sha256": file_sha256(initial),
        "crops": len(crops),
        "crops_sha256": crops_digest(crops),
    }


def finetune(
    out_dir: Path,
    *,
    sources: list[Source],
    embedder_from: Path | None = None,
    segmenter_from: Path | None = None,
    embedder_config: EmbedderConfig | None = None,
    segmenter_config: SegmenterConfig | None = None,
    valid_sources: list[Source] | None = None,
    workers: int = 1,
    device: str = "cpu",
    generation_seconds: float | None = None,
    segmenter_seconds: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune the embedder (``embedder_from``), the segmenter (``segmenter_from``) or
    both on the cases of ``sources``; writes their ``.pt`` and ``recipe.json`` into
    ``out_dir`` and returns the record.

    ``valid_sources`` (segmenter): whole-tumour Dice per source before and after.
    ``generation_seconds`` / ``segmenter_seconds`` bound a run to a time budget; the
    counts and epochs reached are recorded, so passing them back repeats the run.
    """
    if embedder_from is None and segmenter_from is None:
        raise ValueError("nothing to fine-tune: give embedder_from and/or segmenter_from")
    began = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    need_volumes = segmenter_from is not None
    cases, made = _made(
        sources,
        generation_seconds,
        workers=workers,
        crops=embedder_from is not None,
        volumes=need_volumes,
    )
    generated = time.perf_counter() - began
    record: dict[str, Any] = {
        "data": {
            "sources": [{"generator": g, "seed": s, "cases": n} for g, s, n in made],
            "resolution_mm": 2.0,
        },
        "hardware": hardware(device),
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
    }
    if segmenter_from is not None:
        valid = {
            f"{g}:{s}": volume_set_of(
                c.volume
                for c in _made([(g, s, n)], None, workers=workers, crops=False, volumes=True)[0]
                if c.volume is not None
            )
            for g, s, n in valid_sources or []
        }
        volumes = volume_set_of(c.volume for c in cases if c.volume is not None)
        record["segmenter"] = _finetune_segmenter(
            volumes,
            valid,
            segmenter_from,
            segmenter_config or SegmenterConfig(),
            out_dir,
            seconds=segmenter_seconds,
            device=device,
            progress=progress,
        )
        del volumes
    if embedder_from is not None:
        record["embedder"] = _finetune_embedder(
            cases,
            embedder_from,
            embedder_config or EmbedderConfig(),
            out_dir,
            device=device,
            progress=progress,
        )
    record["command"] = _command(
        made,
        embedder_from,
        segmenter_from,
        embedder_config,
        segmenter_config_of(record["segmenter"]["config"]) if "segmenter" in record else None,
    )
    record["seconds"] = {
        "generation": round(generated, 1),
        "total": round(time.perf_counter() - began, 1),
    }
    (out_dir / "recipe.json").write_text(json.dumps(record, indent=2, default=float))
    return record


def _command(
    made: list[Source],
    embedder_from: Path | None,
    segmenter_from: Path | None,
    embedder_config: EmbedderConfig | None,
    segmenter_config: SegmenterConfig | None,
) -> str:
    parts = ["python -m models.training.synthetic_recipe"]
    if embedder_from is not None:
        config = embedder_config or EmbedderConfig()
        parts += [
            f"--finetune-from {embedder_from}",
            f"--embedder-epochs {config.epochs}",
            f"--lr {config.lr}",
        ]
    if segmenter_from is not None:
        config_s = segmenter_config or SegmenterConfig()
        parts += [
            f"--segmenter-from {segmenter_from}",
            f"--segmenter-epochs {config_s.epochs}",
            f"--segmenter-lr {config_s.lr}",
            f"--segmenter-batch {config_s.batch_size}",
        ]
    parts.append("--sources " + ",".join(f"{g}:{s}:{n}" for g, s, n in made))
    parts.append("--out OUT")
    return " ".join(parts)


def finish_finetune(run_dir: Path, out_dir: Path) -> list[ModelCard]:
    """Shipped-format weights (ONNX + cards) of each network a :func:`finetune` run made."""
    record = json.loads((run_dir / "recipe.json").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    training = {k: record[k] for k in TRAINING_KEYS if k in record}
    cards: list[ModelCard] = []
    if "segmenter" in record:
        part = record["segmenter"]
        config = segmenter_config_of(part["config"])
        segmenter = build_segmentation_net(config.channels)
        segmenter.load_state_dict(torch.load(run_dir / "segmenter.pt", weights_only=True))
        cards.append(
            write_weights(
                "segmenter", segmenter.eval(), export_segmenter, out_dir, training, part, config
            )
        )
    if "embedder" in record:
        part = record["embedder"]
        embedder = EmbeddingNet.from_architecture(part["architecture"])
        embedder.load_state_dict(torch.load(run_dir / "embedder.pt", weights_only=True))
        cards.append(
            write_weights("embedder", embedder.eval(), export_embedder, out_dir, training, part)
        )
    return cards
