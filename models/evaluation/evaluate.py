"""``simcase evaluate``: leave-one-patient-out retrieval on a labelled folder.

The archive side of every case is embedded from its given mask (an archive is
indexed with its segmentations); the query side from the segmenter's mask unless
``use_given_masks``. Baselines get exactly the same evidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from models.corpus import iter_studies, read_cases_csv
from models.embedder import Embedder, TorchEmbedder, combine_rows
from models.errors import EmptyMaskError, TrainingDataError
from models.evaluation.attributes import (
    attribute_agreement,
    by_kind,
    case_attributes,
    read_truth,
    within_diagnosis,
)
from models.evaluation.baselines import (
    fact_features,
    intensity_histogram,
    pca_vectors,
    standardise,
)
from models.evaluation.morphology import morphology_scores, random_morphology
from models.evaluation.retrieval_metrics import Metric, rank_references, retrieval_scores
from models.evaluation.tsne_plot import tsne_plot
from models.facts import TumourFacts, tumour_facts
from models.networks.embedding_net import EmbeddingNet
from models.segmenter import Segmenter
from models.signs import tumour_signs
from models.slices import select_tumour_slices
from models.study_arrays import normalised_channels

__all__ = ["dice_whole_tumour", "evaluate_folder"]

logger = logging.getLogger(__name__)


@dataclass
class _Side:
    crops: np.ndarray | None
    context: np.ndarray | None
    facts: TumourFacts | None
    histogram: np.ndarray | None
    signs: np.ndarray | None = None


def dice_whole_tumour(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Dice of labels > 0 (1.0 when both are empty)."""
    p, t = predicted > 0, truth > 0
    denominator = int(p.sum()) + int(t.sum())
    return 1.0 if denominator == 0 else 2.0 * int((p & t).sum()) / denominator


def _side(study: Any, mask: np.ndarray, channels: np.ndarray) -> _Side:
    try:
        slices = select_tumour_slices(study, mask, channels=channels)
    except EmptyMaskError:
        return _Side(None, None, None, None)
    return _Side(
        slices.crops,
        slices.context,
        tumour_facts(study, mask),
        intensity_histogram(channels, mask),
        tumour_signs(channels, mask, study.affine),
    )


def _case_vectors(embedder: Embedder, sides: list[_Side], dim: int) -> np.ndarray:
    out = np.zeros((len(sides), dim), dtype=np.float32)
    for i, side in enumerate(sides):
        if side.crops is not None:
            signs = side.signs if embedder.sign_count else None
            out[i] = combine_rows(embedder.embed_crops(side.crops, side.context, signs))
    return out


def _scored(
    queries: np.ndarray,
    references: np.ndarray,
    patients: list[str],
    diagnoses: list[str],
    failed: list[bool],
    metric: Metric,
) -> tuple[dict[str, Any], list[np.ndarray]]:
    orders = rank_references(queries, references, patients, metric=metric)
    return retrieval_scores(orders, diagnoses, failed=failed).to_dict(), orders


def _similarity_spread(
    queries: np.ndarray, references: np.ndarray, orders: list[np.ndarray], failed: list[bool]
) -> dict[str, float]:
    """How spread the cosine similarities are: of the top hit, the fifth, and any pair."""
    cosine = queries @ references.T
    ok = [i for i in range(len(orders)) if not failed[i] and len(orders[i]) >= 5]
    if not ok:
        return {}
    top1 = [cosine[i, orders[i][0]] for i in ok]
    top5 = [cosine[i, orders[i][4]] for i in ok]
    every = np.concatenate([cosine[i, orders[i]] for i in ok])
    return {
        "median_cosine_top1": float(np.median(top1)),
        "median_cosine_top5": float(np.median(top5)),
        "cosine_p10_all_pairs": float(np.percentile(every, 10)),
        "cosine_p50_all_pairs": float(np.percentile(every, 50)),
        "cosine_p90_all_pairs": float(np.percentile(every, 90)),
    }


def evaluate_folder(
    data_dir: Path,
    embedder: Embedder,
    segmenter: Segmenter | None,
    *,
    use_given_masks: bool = False,
    plot: Path | None = None,
    progress: bool = True,
    seed: int = 0,
    kinds: bool = False,
) -> dict[str, Any]:
    """Evaluate ``embedder`` (and ``segmenter``) on a labelled BraTS-layout folder.

    With ``kinds``, scores are also given per hard-case kind (``truth.json``'s ``hard``).

    Returns:
        The JSON-ready result (see docs/models.md for the shape).

    Raises:
        TrainingDataError: a case has no mask, or the folder is not labelled.
    """
    records = read_cases_csv(data_dir)
    if segmenter is None and not use_given_masks:
        raise TrainingDataError("no segmenter given: pass one or use the given masks")
    archive: list[_Side] = []
    query: list[_Side] = []
    dices: list[float] = []
    for record, study in tqdm(
        iter_studies(data_dir, records), total=len(records), desc="evaluate", disable=not progress
    ):
        if study.mask is None:
            raise TrainingDataError(f"case {record.case_id} has no -seg file")
        channels = normalised_channels(study)
        archive_side = _side(study, study.mask, channels)
        if archive_side.crops is None:
            raise TrainingDataError(f"case {record.case_id} has an empty -seg mask")
        archive.append(archive_side)
        if use_given_masks:
            query.append(archive_side)
        else:
            assert segmenter is not None
            predicted = segmenter.segment(study)
            dices.append(dice_whole_tumour(predicted, study.mask))
            query.append(_side(study, predicted, channels))

    diagnoses = [r.diagnosis for r in records]
    patients = [r.patient_id for r in records]
    failed = [side.crops is None for side in query]
    if any(failed):
        logger.warning("%d queries had an empty predicted mask; they score 0", sum(failed))
    archive_vectors = _case_vectors(embedder, archive, embedder.dim)
    query_vectors = _case_vectors(embedder, query, embedder.dim)
    metrics, orders = _scored(query_vectors, archive_vectors, patients, diagnoses, failed, "cosine")
    archive_facts = [side.facts for side in archive]
    assert all(f is not None for f in archive_facts)
    facts = [f for f in archive_facts if f is not None]
    morphology = morphology_scores(orders, facts)
    chance = random_morphology(facts, patients, seed=seed)
    morphology["random_median_volume_log_ratio_top5"] = chance["median_volume_log_ratio_top5"]
    morphology["random_median_centroid_mm_top5"] = chance["median_centroid_mm_top5"]
    metrics["morphology"] = morphology
    truth = read_truth(data_dir)
    attributes = [
        case_attributes(f, truth.get(r.case_id)) for f, r in zip(facts, records, strict=True)
    ]
    chance_orders = [
        np.random.default_rng([seed, i]).permutation(order) for i, order in enumerate(orders)
    ]
    metrics["attributes"] = {
        "agreement_top5": attribute_agreement(orders, attributes),
        "random_agreement_top5": attribute_agreement(chance_orders, attributes),
    }
    metrics["within_diagnosis"] = within_diagnosis(
        query_vectors, archive_vectors, patients, diagnoses, facts, attributes, seed=seed
    )
    metrics["similarity"] = _similarity_spread(query_vectors, archive_vectors, orders, failed)
    if kinds:
        metrics["by_kind"] = by_kind(orders, diagnoses, attributes, failed)

    baselines: dict[str, dict[str, float]] = {}

    def keep(name: str, scores: dict[str, Any]) -> None:
        baselines[name] = {"map_at_r": scores["map_at_r"], "p_at_5": scores["p_at_5"]}

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        untrained = TorchEmbedder(
            EmbeddingNet(context_channels=embedder.context_channels), "untrained"
        )
    keep(
        "untrained_network",
        _scored(
            _case_vectors(untrained, query, untrained.dim),
            _case_vectors(untrained, archive, untrained.dim),
            patients,
            diagnoses,
            failed,
            "cosine",
        )[0],
    )
    mean_crop = archive[0].crops
    assert mean_crop is not None
    blank = np.zeros_like(mean_crop.mean(axis=0))
    q_pix = np.stack([s.crops.mean(axis=0) if s.crops is not None else blank for s in query])
    r_pix = np.stack([s.crops.mean(axis=0) for s in archive if s.crops is not None])
    q_pca, r_pca = pca_vectors(q_pix, r_pix, seed=seed)
    keep("raw_pixel_pca", _scored(q_pca, r_pca, patients, diagnoses, failed, "cosine")[0])
    r_facts = np.stack([fact_features(f) for f in facts])
    q_facts = np.stack(
        [fact_features(s.facts) if s.facts is not None else np.zeros(8) for s in query]
    )
    q_std, r_std = standardise(q_facts, r_facts)
    keep("lesion_facts", _scored(q_std, r_std, patients, diagnoses, failed, "euclidean")[0])
    sign_len = len(archive[0].signs) if archive[0].signs is not None else 0
    r_signs = np.stack([s.signs for s in archive if s.signs is not None])
    q_signs = np.stack([s.signs if s.signs is not None else np.zeros(sign_len) for s in query])
    q_std, r_std = standardise(q_signs, r_signs)
    keep("measured_signs", _scored(q_std, r_std, patients, diagnoses, failed, "euclidean")[0])
    hist_len = len(archive[0].histogram) if archive[0].histogram is not None else 0
    r_hist = np.stack([s.histogram for s in archive if s.histogram is not None])
    q_hist = np.stack(
        [s.histogram if s.histogram is not None else np.zeros(hist_len) for s in query]
    )
    keep(
        "intensity_histograms", _scored(q_hist, r_hist, patients, diagnoses, failed, "euclidean")[0]
    )

    if plot is not None:
        tsne_plot(archive_vectors, diagnoses, plot, title=f"{embedder.model_version}", seed=seed)

    result: dict[str, Any] = {
        "model_version": embedder.model_version,
        "n_cases": len(records),
        "metrics": metrics,
        "baselines": baselines,
        "segmentation": {
            "dice_whole_tumour": float(np.mean(dices)) if dices else float("nan"),
            "empty_predictions": int(sum(failed)),
            "model_version": getattr(segmenter, "model_version", None),
            "used_given_masks_for_queries": use_given_masks,
        },
    }
    return result
