"""From a labelled BraTS-layout folder to shipped-format weights (ONNX + model card)."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from dicom_conversion import Diagnosis
from models.context import CONTEXT_CHANNELS, CONTEXT_PIXEL_MM, CONTEXT_SIZE_PX
from models.corpus import folder_digest
from models.onnx_export import export_embedder, export_segmenter
from models.registry import ModelCard, file_sha256, model_version_for, write_card
from models.segmenter import OnnxSegmenter
from models.slices import CROP_FIELD_MM, CROP_SIZE_PX, NEIGHBOUR_MM
from models.training.crops import build_crop_set
from models.training.embedder_training import EmbedderConfig, train_embedder
from models.training.labelled_folders import (
    folders_of,
    read_records,
    read_studies,
    split_by_patient,
)
from models.training.segmenter_training import SegmenterConfig, build_volume_set, train_segmenter
from models.training.validation import validation_hook, validation_scorer

__all__ = [
    "split_by_patient",
    "train_embedder_folder",
    "train_segmenter_folder",
    "validation_scorer",
]

logger = logging.getLogger(__name__)


def _finish(
    name: str, net: torch.nn.Module, out_dir: Path, card: ModelCard, export: Any
) -> ModelCard:
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out_dir / f"{name}.pt")
    export(net, out_dir / f"{name}.onnx")
    onnx_sha = file_sha256(out_dir / f"{name}.onnx")
    card.onnx_sha256 = onnx_sha
    card.torch_sha256 = file_sha256(out_dir / f"{name}.pt")
    card.model_version = model_version_for(name, onnx_sha)
    write_card(out_dir, card)
    return card


def _environment() -> dict[str, str]:
    return {"torch": torch.__version__, "python": platform.python_version()}


def train_embedder_folder(
    data_dir: Path | Sequence[Path],
    out_dir: Path,
    config: EmbedderConfig,
    *,
    work_dir: Path,
    validation_fraction: float = 0.1,
    resume: bool = True,
    progress: bool = True,
    command: str = "",
    device: str = "cpu",
    segmenter_dir: Path | None = None,
) -> ModelCard:
    """Train the embedder on labelled folders and write ``embedder.{pt,onnx,json,md}``.

    ``segmenter_dir``: the segmenter whose masks give the query-side context planes
    (None: the shipped one).
    """
    began = time.perf_counter()
    folders = folders_of(data_dir)
    records, where = read_records(folders)
    records = [r for r in records if r.diagnosis in Diagnosis.labels()]
    train_records, valid_records = split_by_patient(records, validation_fraction, config.seed)
    segmenter = None
    if config.context and config.segmented_context > 0:
        # Queries are segmented by simcase, the archive comes with masks: the context
        # planes of both are trained on.
        segmenter = OnnxSegmenter.load(segmenter_dir, threads=config.threads)
    train_set = build_crop_set(
        (
            (s, s.mask, r.diagnosis)
            for r, s in read_studies(where, train_records, "training cases", progress)
        ),
        Diagnosis.labels(),
        segmenter=segmenter,
    )
    hook = None
    if valid_records:
        valid_set = build_crop_set(
            (
                (s, s.mask, r.diagnosis)
                for r, s in read_studies(where, valid_records, "validation cases", progress)
            ),
            Diagnosis.labels(),
            n_offsets=1,
        )
        hook = validation_hook(valid_set, valid_records)
    logger.info("embedder: %d training crops from %d cases", len(train_set), len(train_records))
    net, history = train_embedder(
        train_set, config, work_dir, resume=resume, progress=progress, on_epoch=hook, device=device
    )
    card = ModelCard(
        name="embedder",
        model_version="",
        onnx_sha256="",
        torch_sha256="",
        architecture=net.architecture(),
        preprocessing={
            "channels": ["T1", "T1C", "T2", "FLAIR"],
            "normalisation": "z-score over non-zero voxels per sequence, clipped to +-5",
            "crop_size_px": CROP_SIZE_PX,
            "crop_field_mm": CROP_FIELD_MM,
            "neighbour_mm": NEIGHBOUR_MM,
            "slices": "largest tumour area axial slice and one neighbour each side",
            "case_vector": "normalised mean of the slice vectors",
            "context": (
                f"{CONTEXT_CHANNELS} binary planes, {CONTEXT_SIZE_PX} px of {CONTEXT_PIXEL_MM} mm "
                "centred on the brain: tumour and brain axial projections, tumour and brain "
                "in the slice at the tumour centroid level, tumour and brain coronal projections; "
                "training mixes the planes of the given and the segmented mask"
                if config.context
                else "none"
            ),
        },
        training={
            "command": command,
            "data_dirs": [str(f) for f in folders],
            "data_sha256": {str(f): folder_digest(f) for f in folders},
            "cases": len(train_records),
            "validation_cases": len(valid_records),
            "crops": len(train_set),
            "config": asdict(config),
            "loss": f"TripletMarginLoss(margin={config.margin}) + {config.miner} miner"
            + (
                f" + {config.softmax_weight} x NormalizedSoftmaxLoss"
                if config.softmax_weight > 0
                else ""
            ),
            "query_context_segmenter": None if segmenter is None else segmenter.model_version,
            "history": history,
            "wall_seconds": round(time.perf_counter() - began, 1),
            "environment": _environment(),
        },
    )
    return _finish("embedder", net, out_dir, card, export_embedder)


def train_segmenter_folder(
    data_dir: Path | Sequence[Path],
    out_dir: Path,
    config: SegmenterConfig,
    *,
    work_dir: Path,
    validation_fraction: float = 0.1,
    max_cases: int | None = None,
    resume: bool = True,
    progress: bool = True,
    command: str = "",
    device: str = "cpu",
) -> ModelCard:
    """Train the segmenter on labelled folders and write ``segmenter.{pt,onnx,json,md}``.

    A ``validation_fraction`` of the patients is held out; their whole-tumour Dice is
    recorded after every epoch.
    """
    began = time.perf_counter()
    folders = folders_of(data_dir)
    records, where = read_records(folders)
    if max_cases is not None:
        records = records[:max_cases]
    train_records, valid_records = split_by_patient(records, validation_fraction, config.seed)
    volumes = build_volume_set(
        (s, s.mask) for _, s in read_studies(where, train_records, "training cases", progress)
    )
    valid = None
    if valid_records:
        valid = build_volume_set(
            (s, s.mask) for _, s in read_studies(where, valid_records, "validation cases", progress)
        )
    net, history = train_segmenter(
        volumes, config, work_dir, resume=resume, progress=progress, device=device, valid=valid
    )
    card = ModelCard(
        name="segmenter",
        model_version="",
        onnx_sha256="",
        torch_sha256="",
        architecture={
            "class": "monai.networks.nets.UNet (3-D, instance norm, 1 residual unit)",
            "channels": list(config.channels),
            "in_channels": 4,
            "classes": ["background", "necrotic core", "oedema", "enhancing"],
            "parameters": sum(p.numel() for p in net.parameters()),
        },
        preprocessing={
            "channels": ["T1", "T1C", "T2", "FLAIR"],
            "normalisation": "z-score over non-zero voxels per sequence, clipped to +-5",
            "grid": "isotropic 2 mm (trilinear), cropped to the brain box; scores "
            "interpolated back to the study grid around the coarse tumour",
        },
        training={
            "command": command,
            "data_dirs": [str(f) for f in folders],
            "data_sha256": {str(f): folder_digest(f) for f in folders},
            "cases": len(records),
            "config": asdict(config),
            "loss": "monai DiceCELoss (softmax, one-hot)",
            "history": history,
            "wall_seconds": round(time.perf_counter() - began, 1),
            "environment": _environment(),
        },
    )
    return _finish("segmenter", net, out_dir, card, export_segmenter)
