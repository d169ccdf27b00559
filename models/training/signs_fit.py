"""Give an embedder the measured signs: fit the signs head and write the combined model.

``python -m models.training.signs_fit --embedder DIR --segmenter DIR --data F1 --data F2
--out OUT`` measures the signs (:mod:`models.signs`) of every labelled case in the
folders, from its given mask and from the segmenter's (the archive and the query side of
a search), fits a multinomial logistic regression of the diagnosis on the standardised
signs, and writes ``OUT/embedder.{pt,onnx,json,md}``: the image network unchanged plus a
:class:`~models.networks.signs_head.SignsHead`, one ONNX graph, one model version. The
card records the folders' digests, the fit and the weights.

``python -m models.training.signs_fit --reweight DIR --diagnosis-weight D
--appearance-weight A --reason TEXT --out OUT`` keeps DIR's fitted head (its regression
and standardisation) and changes only the weights of its two parts against the image
part's 1: the choice of how far the signs outweigh the image network, made on a
validation corpus the card names.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from models.corpus import folder_digest, iter_studies, read_cases_csv
from models.networks.embedding_net import EmbeddingNet
from models.networks.signs_head import default_radians_per_sd
from models.onnx_export import export_embedder
from models.registry import ModelCard, load_card, write_card
from models.segmenter import OnnxSegmenter, Segmenter
from models.signs import SIGN_NAMES, tumour_signs
from models.study_arrays import normalised_channels
from models.training.synthetic_recipe import write_weights

__all__ = [
    "APPEARANCE",
    "SignRows",
    "attach_signs",
    "fit_signs_head",
    "measure_folders",
    "reweight_signs",
]

logger = logging.getLogger(__name__)

#: The signs of the appearance part and their weights: place (the centroid), size, the
#: compartments, the count and the contact with the surface.
APPEARANCE: dict[str, float] = {
    "centroid_x_mm": 1.0,
    "centroid_y_mm": 1.0,
    "centroid_z_mm": 1.0,
    "log_volume_ml": 1.5,
    "log_core_ml": 0.5,
    "enhancing_share_of_core": 1.0,
    "necrotic_share": 0.5,
    "log_oedema_to_core": 0.5,
    "log_lesions": 1.0,
    "surface_contact": 0.5,
}


@dataclass
class SignRows:
    """Measured signs of labelled cases (one row per case and mask source)."""

    signs: np.ndarray
    diagnoses: list[str]
    patients: list[str]
    sources: list[str]


def measure_folders(
    folders: Sequence[Path], segmenter: Segmenter | None, *, progress: bool = True
) -> SignRows:
    """Signs from each case's given mask and, with ``segmenter``, from its segmentation
    (a segmentation that finds nothing adds no row)."""
    rows: list[np.ndarray] = []
    diagnoses: list[str] = []
    patients: list[str] = []
    sources: list[str] = []
    for folder in folders:
        records = read_cases_csv(folder)
        studies = iter_studies(folder, records)
        for record, study in tqdm(studies, total=len(records), disable=not progress):
            channels = normalised_channels(study)
            masks = [("given", study.mask)]
            if segmenter is not None:
                masks.append(("segmenter", segmenter.segment(study)))
            for source, mask in masks:
                if mask is None or not np.any(mask > 0):
                    continue
                rows.append(tumour_signs(channels, mask, study.affine))
                diagnoses.append(record.diagnosis)
                patients.append(record.patient_id)
                sources.append(source)
    return SignRows(np.asarray(rows), diagnoses, patients, sources)


def fit_signs_head(
    signs: np.ndarray,
    diagnoses: Sequence[str],
    *,
    diagnosis_weight: float,
    appearance_weight: float,
    appearance: dict[str, float] | None = None,
    regularisation: float = 1.0,
) -> dict[str, Any]:
    """The architecture of a :class:`SignsHead` fitted to ``signs`` ``[N, S]``."""
    chosen = APPEARANCE if appearance is None else appearance
    x = np.asarray(signs, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=regularisation, max_iter=5000)
    model.fit((x - mean) / scale, list(diagnoses))
    return {
        "names": list(SIGN_NAMES),
        "classes": [str(c) for c in model.classes_],
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": model.coef_.tolist(),
        "intercept": model.intercept_.tolist(),
        "appearance": list(chosen),
        "appearance_weights": list(chosen.values()),
        "radians_per_sd": default_radians_per_sd(),
        "diagnosis_weight": diagnosis_weight,
        "appearance_weight": appearance_weight,
    }


def attach_signs(
    embedder_dir: Path, head: dict[str, Any], out_dir: Path, fit: dict[str, Any]
) -> ModelCard:
    """Write the embedder of ``embedder_dir`` with the signs head ``head`` into ``out_dir``."""
    card = load_card(embedder_dir, "embedder")
    base = {k: v for k, v in card.architecture.items() if k not in ("signs", "parameters")}
    image = EmbeddingNet.from_architecture(base)
    image.load_state_dict(torch.load(embedder_dir / "embedder.pt", weights_only=True))
    net = EmbeddingNet.from_architecture({**base, "signs": head})
    missing, unexpected = net.load_state_dict(image.state_dict(), strict=False)
    if unexpected or any(not name.startswith("signs.") for name in missing):
        raise ValueError(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    return _write_embedder(
        net,
        card,
        out_dir,
        {"image_part": card.model_version, "signs_fit": fit},
        preprocessing={
            **card.preprocessing,
            "signs": "models.signs.tumour_signs of the normalised sequences and the mask",
        },
        notes=[
            f"The image network of {card.model_version} with a signs head fitted to measured "
            "radiological signs (docs/models.md, seventh round). Synthetic training data "
            "only: not for diagnostic use.",
        ],
    )


def _write_embedder(
    net: EmbeddingNet,
    card: ModelCard,
    out_dir: Path,
    added: dict[str, Any],
    *,
    preprocessing: dict[str, Any],
    notes: list[str],
) -> ModelCard:
    """Write ``net`` as a new embedder whose card keeps ``card``'s training record (plus
    ``added``), with its own preprocessing and notes."""
    training = {
        **{k: v for k, v in card.training.items() if k not in ("config", "history")},
        **added,
    }
    part = {"config": card.training.get("config", {}), "history": card.training.get("history", [])}
    out_dir.mkdir(parents=True, exist_ok=True)
    new = write_weights("embedder", net.eval(), export_embedder, out_dir, training, part)
    new.preprocessing = preprocessing
    new.notes = notes
    write_card(out_dir, new)
    return new


def reweight_signs(
    embedder_dir: Path,
    out_dir: Path,
    *,
    diagnosis_weight: float,
    appearance_weight: float,
    reason: str,
) -> ModelCard:
    """Write the embedder of ``embedder_dir`` with its signs head's part weights changed.

    The regression, the standardisation and the image network stay as they are; the
    card records the model it came from, the new weights and ``reason`` (where they
    were chosen).
    """
    if diagnosis_weight < 0 or appearance_weight < 0:
        raise ValueError("part weights must not be negative")
    card = load_card(embedder_dir, "embedder")
    head = card.architecture.get("signs")
    if not head:
        raise ValueError(f"{card.model_version} has no signs head to reweight")
    old = EmbeddingNet.from_architecture(card.architecture)
    old.load_state_dict(torch.load(embedder_dir / "embedder.pt", weights_only=True))
    new_head = {
        **head,
        "diagnosis_weight": float(diagnosis_weight),
        "appearance_weight": float(appearance_weight),
    }
    base = {k: v for k, v in card.architecture.items() if k not in ("signs", "parameters")}
    net = EmbeddingNet.from_architecture({**base, "signs": new_head})
    net.load_state_dict(old.state_dict())
    reweighted = {
        "from": card.model_version,
        "diagnosis_weight": float(diagnosis_weight),
        "appearance_weight": float(appearance_weight),
        "previous": [head["diagnosis_weight"], head["appearance_weight"]],
        "reason": reason,
    }
    return _write_embedder(
        net,
        card,
        out_dir,
        {"reweighted": reweighted},
        preprocessing=dict(card.preprocessing),
        notes=[
            *card.notes,
            f"Signs head reweighted from {card.model_version}: diagnosis part "
            f"{diagnosis_weight:g}, appearance part {appearance_weight:g} against the image "
            f"part's 1 ({reason}).",
        ],
    )


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", type=Path)
    parser.add_argument("--segmenter", type=Path, default=None)
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--reweight", type=Path, help="a fitted embedder: change its weights")
    parser.add_argument("--reason", default="", help="with --reweight: where they were chosen")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--diagnosis-weight", type=float, default=1.0)
    parser.add_argument("--appearance-weight", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.reweight is not None:
        if not args.reason:
            parser.error("--reweight needs --reason (the corpus the weights were chosen on)")
        card = reweight_signs(
            args.reweight,
            args.out,
            diagnosis_weight=args.diagnosis_weight,
            appearance_weight=args.appearance_weight,
            reason=args.reason,
        )
        logger.info("signs head reweighted: %s", json.dumps({"model_version": card.model_version}))
        return
    if args.embedder is None or not args.data:
        parser.error("--embedder and --data are needed to fit a signs head")
    segmenter = (
        None if args.segmenter is None else OnnxSegmenter.load(args.segmenter, threads=args.threads)
    )
    rows = measure_folders(args.data, segmenter)
    head = fit_signs_head(
        rows.signs,
        rows.diagnoses,
        diagnosis_weight=args.diagnosis_weight,
        appearance_weight=args.appearance_weight,
    )
    fit = {
        "command": "python -m models.training.signs_fit "
        + " ".join(f"--data {d}" for d in args.data)
        + f" --diagnosis-weight {args.diagnosis_weight}"
        + f" --appearance-weight {args.appearance_weight}",
        "data_sha256": {str(d): folder_digest(d) for d in args.data},
        "rows": len(rows.diagnoses),
        "segmenter": None if segmenter is None else segmenter.model_version,
    }
    card = attach_signs(args.embedder, head, args.out, fit)
    logger.info("signs head attached: %s", json.dumps({"model_version": card.model_version}))


if __name__ == "__main__":
    main()
