"""From a labelled BraTS-layout folder to shipped-format weights (ONNX + model card)."""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dicom_conversion import Diagnosis
from models.context import CONTEXT_CHANNELS, CONTEXT_PIXEL_MM, CONTEXT_SIZE_PX
from models.corpus import CaseRecord, folder_digest, iter_studies, read_cases_csv
from models.errors import TrainingDataError
from models.evaluation.retrieval_metrics import (
    RetrievalScores,
    rank_references,
    retrieval_scores,
)
from models.networks.embedding_net import EmbeddingNet
from models.onnx_export import export_embedder, export_segmenter
from models.registry import ModelCard, file_sha256, model_version_for, write_card
from models.segmenter import OnnxSegmenter
from models.slices import CROP_FIELD_MM, CROP_SIZE_PX, NEIGHBOUR_MM
from models.training.augment import centre_crops
from models.training.crops import CropSet, build_crop_set
from models.training.embedder_training import EmbedderConfig, train_embedder
from models.training.segmenter_training import SegmenterConfig, build_volume_set, train_segmenter

__all__ = ["split_by_patient", "train_embedder_folder", "train_segmenter_folder"]

logger = logging.getLogger(__name__)


def split_by_patient(
    records: list[CaseRecord], fraction: float, seed: int
) -> tuple[list[CaseRecord], list[CaseRecord]]:
    """Split cases into training and validation sets with no patient in both."""
    patients = sorted({r.patient_id for r in records})
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(patients, size=round(len(patients) * fraction), replace=False))
    train = [r for r in records if r.patient_id not in chosen]
    valid = [r for r in records if r.patient_id in chosen]
    return train, valid


def _folders(data_dir: Path | Sequence[Path]) -> list[Path]:
    return [data_dir] if isinstance(data_dir, Path) else list(data_dir)


def _read_records(folders: list[Path]) -> tuple[list[CaseRecord], dict[str, Path]]:
    """The cases of several labelled folders, and the folder of each case id."""
    records: list[CaseRecord] = []
    where: dict[str, Path] = {}
    for folder in folders:
        for record in read_cases_csv(folder):
            if record.case_id in where:
                raise TrainingDataError(
                    f"case {record.case_id} is in {where[record.case_id]} and {folder}"
                )
            where[record.case_id] = folder
            records.append(record)
    return records, where


def _studies(where: dict[str, Path], records: list[CaseRecord]) -> Iterator[tuple[CaseRecord, Any]]:
    for record in records:
        yield from iter_studies(where[record.case_id], [record])


def _read(
    where: dict[str, Path], records: list[CaseRecord], what: str, progress: bool
) -> Iterator[tuple[CaseRecord, Any]]:
    """The labelled studies one at a time: only the crops or volumes made from them are
    kept, so a corpus need not fit in memory (1,615 training cases at 2 mm are ~30 GB)."""
    for record, study in tqdm(
        _studies(where, records),
        total=len(records),
        desc=f"reading {what}",
        disable=not progress,
    ):
        if study.mask is None:
            raise TrainingDataError(f"training case {record.case_id} has no -seg mask")
        yield record, study


_VALID_BATCH = 256


def validation_scorer(
    valid: CropSet, diagnoses: list[str], patients: list[str]
) -> Callable[[EmbeddingNet], RetrievalScores]:
    """Retrieval scores of a network on validation crops (given masks, leave-one-patient-out);
    the centred crops and planes are made once, the vectors at each call."""
    centred = centre_crops(valid.crops.astype(np.float32))
    planes = centre_crops(valid.context[valid.case_index].astype(np.float32), CONTEXT_SIZE_PX)

    def score(net: EmbeddingNet) -> RetrievalScores:
        device = next(net.parameters()).device
        context = torch.from_numpy(planes).to(device) if net.context_channels else None
        with torch.inference_mode():
            # In batches: one forward pass over every validation crop (185 validation
            # cases) took the training process to ~17 GB.
            rows = np.concatenate(
                [
                    net(
                        torch.from_numpy(centred[start : start + _VALID_BATCH]).to(device),
                        None if context is None else context[start : start + _VALID_BATCH],
                    )
                    .cpu()
                    .numpy()
                    for start in range(0, len(centred), _VALID_BATCH)
                ]
            )
        vectors = np.zeros((len(diagnoses), rows.shape[1]))
        np.add.at(vectors, valid.case_index, rows)
        orders = rank_references(vectors, vectors, patients)
        return retrieval_scores(orders, diagnoses)

    return score


def _validation_hook(valid: CropSet, valid_records: list[CaseRecord]) -> Any:
    score = validation_scorer(
        valid, [r.diagnosis for r in valid_records], [r.patient_id for r in valid_records]
    )

    def hook(epoch: int, net: EmbeddingNet, record: dict[str, float]) -> dict[str, float]:
        scores = score(net)
        return {"valid_map_at_r": scores.map_at_r, "valid_p_at_1": scores.p_at_1}

    return hook


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
    folders = _folders(data_dir)
    records, where = _read_records(folders)
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
            for r, s in _read(where, train_records, "training cases", progress)
        ),
        Diagnosis.labels(),
        segmenter=segmenter,
    )
    hook = None
    if valid_records:
        valid_set = build_crop_set(
            (
                (s, s.mask, r.diagnosis)
                for r, s in _read(where, valid_records, "validation cases", progress)
            ),
            Diagnosis.labels(),
            n_offsets=1,
        )
        hook = _validation_hook(valid_set, valid_records)
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
    folders = _folders(data_dir)
    records, where = _read_records(folders)
    if max_cases is not None:
        records = records[:max_cases]
    train_records, valid_records = split_by_patient(records, validation_fraction, config.seed)
    volumes = build_volume_set(
        (s, s.mask) for _, s in _read(where, train_records, "training cases", progress)
    )
    valid = None
    if valid_records:
        valid = build_volume_set(
            (s, s.mask) for _, s in _read(where, valid_records, "validation cases", progress)
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
