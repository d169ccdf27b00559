"""From a study's volumes to what the store keeps: mask, tumour facts and embedding.

One function, :func:`embed_study`, serves bulk indexing, re-indexing and queries, so
the archive and the query side always see the same preprocessing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from dicom_conversion import StudyVolumes
from indexer.errors import ModelVersionError, NoTumourError
from indexer.store import VectorStore
from indexer.thumbnails import tumour_outline_png, tumour_thumbnail
from models import OnnxEmbedder, OnnxSegmenter, normalised_channels, tumour_facts
from models.registry import resolve_model_dir

__all__ = [
    "CaseEmbedder",
    "CaseSegmenter",
    "EmbeddedStudy",
    "LoadedModels",
    "ModelSet",
    "embed_study",
    "embedder_from_weights",
    "load_models",
    "models_for_search",
    "register_models",
]

log = logging.getLogger(__name__)


class CaseEmbedder(Protocol):
    """The part of :class:`models.Embedder` the indexer uses."""

    @property
    def model_version(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_case(
        self, study: StudyVolumes, mask: np.ndarray, *, channels: np.ndarray | None = None
    ) -> np.ndarray: ...


class CaseSegmenter(Protocol):
    """The part of :class:`models.Segmenter` the indexer uses."""

    def segment(self, study: StudyVolumes, *, channels: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSet:
    """The models one process uses."""

    embedder: CaseEmbedder
    segmenter: CaseSegmenter

    @property
    def model_version(self) -> str:
        return self.embedder.model_version


@dataclass(frozen=True)
class LoadedModels(ModelSet):
    """A :class:`ModelSet` that knows where its embedder's ONNX weights are."""

    embedder_onnx: Path


def load_models(model_dir: Path | None = None, *, threads: int = 0) -> LoadedModels:
    """The shipped models (or those in ``model_dir``), ready for CPU inference.

    ``threads`` = 0 lets onnxruntime use every core; worker processes pass 1.
    """
    return LoadedModels(
        embedder=OnnxEmbedder.load(model_dir, threads=threads),
        segmenter=OnnxSegmenter.load(model_dir, threads=threads),
        embedder_onnx=resolve_model_dir(model_dir) / "embedder.onnx",
    )


def embedder_from_weights(onnx: bytes, model_version: str, cache_dir: Path) -> OnnxEmbedder:
    """An embedder from ONNX weights kept in the database (an older model version)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{model_version}.onnx"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(onnx)
        tmp.replace(path)
    return OnnxEmbedder(path, model_version)


@dataclass(frozen=True)
class EmbeddedStudy:
    """A study's tumour as simcase indexes and searches it."""

    vector: np.ndarray
    mask: np.ndarray
    mask_source: Literal["given", "segmenter"]
    facts: dict[str, Any]
    model_version: str
    thumbnail: bytes
    #: The tumour's outline over :attr:`thumbnail` (transparent PNG, the same crop).
    outline: bytes


def embed_study(
    study: StudyVolumes,
    models: ModelSet,
    *,
    use_given_mask: bool = True,
    lap: Callable[[str], None] | None = None,
) -> EmbeddedStudy:
    """Mask (given or segmented), tumour facts and the case embedding of one study.

    ``lap("segment")`` is called once the mask is there (given or segmented).
    """
    given = study.mask is not None and bool(np.any(study.mask > 0))
    # Normalised once: the segmenter and the embedder read the same channels.
    channels = normalised_channels(study)
    if use_given_mask and given:
        assert study.mask is not None
        mask = np.asarray(study.mask, dtype=np.uint8)
        source: Literal["given", "segmenter"] = "given"
    else:
        mask = np.asarray(models.segmenter.segment(study, channels=channels), dtype=np.uint8)
        source = "segmenter"
    if lap is not None:
        lap("segment")
    if not np.any(mask > 0):
        raise NoTumourError(
            f"no tumour found in study {study.study_instance_uid or study.case_id or '?'}"
            f" (mask from {source})"
        )
    facts = tumour_facts(study, mask).to_dict()
    vector = np.asarray(
        models.embedder.embed_case(study, mask, channels=channels), dtype=np.float32
    ).reshape(-1)
    return EmbeddedStudy(
        vector=vector,
        mask=mask,
        mask_source=source,
        facts=facts,
        model_version=models.model_version,
        thumbnail=tumour_thumbnail(study, mask),
        outline=tumour_outline_png(study, mask),
    )


def register_models(store: VectorStore, models: ModelSet) -> str:
    """Register the embedder's version with the store (and keep its weights there)."""
    state = store.register_model(models.model_version, models.embedder.dim)
    if isinstance(models, LoadedModels):
        store.save_weights(models.model_version, models.embedder_onnx.read_bytes())
    return state


def models_for_search(store: VectorStore, models: ModelSet, cache_dir: Path) -> ModelSet:
    """The models whose embeddings match the version searches use now.

    While a newer model is being indexed, searches stay on the active version: the query
    is then embedded with that version's weights, kept in the database.
    """
    active = store.active_model_version()
    if active is None or active == models.model_version:
        return models
    weights = store.load_weights(active)
    if weights is None:
        raise ModelVersionError(
            f"searches use model version {active}, whose weights are not in the database; "
            f"re-index with the current model ({models.model_version})"
        )
    return ModelSet(
        embedder=embedder_from_weights(weights, active, cache_dir), segmenter=models.segmenter
    )
