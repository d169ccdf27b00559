"""Retrieval scores of an embedder during training, on validation crops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from models.context import CONTEXT_SIZE_PX
from models.corpus import CaseRecord
from models.evaluation.retrieval_metrics import (
    RetrievalScores,
    rank_references,
    retrieval_scores,
)
from models.networks.embedding_net import EmbeddingNet
from models.training.augment import centre_crops
from models.training.crops import CropSet

__all__ = ["validation_hook", "validation_scorer"]

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


def validation_hook(valid: CropSet, valid_records: list[CaseRecord]) -> Any:
    """An ``on_epoch`` hook of the embedder's training: mAP@R and P@1 on ``valid``."""
    score = validation_scorer(
        valid, [r.diagnosis for r in valid_records], [r.patient_id for r in valid_records]
    )

    def hook(epoch: int, net: EmbeddingNet, record: dict[str, float]) -> dict[str, float]:
        scores = score(net)
        return {"valid_map_at_r": scores.map_at_r, "valid_p_at_1": scores.p_at_1}

    return hook
