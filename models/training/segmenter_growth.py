"""Give a segmenter the oedema growth (:mod:`models.networks.oedema_growth`).

``python -m models.training.segmenter_growth --segmenter DIR --flair-z Z --t2-z Z
--steps N --reason TEXT --out OUT`` writes ``OUT/segmenter.{pt,onnx,json,md}``: DIR's
trained network unchanged (``segmenter.pt`` is copied byte for byte) followed by the
growth in the same ONNX graph, so the model version changes with the thresholds. The
card keeps DIR's training record and adds where the thresholds were chosen (``reason``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from models.networks.oedema_growth import OedemaGrowth
from models.onnx_export import export_segmenter
from models.registry import ModelCard, file_sha256, load_card, model_version_for, write_card
from models.segmenter import segmentation_net_of

__all__ = ["add_oedema_growth"]

logger = logging.getLogger(__name__)


def add_oedema_growth(
    segmenter_dir: Path,
    out_dir: Path,
    *,
    flair_z: float,
    t2_z: float,
    steps: int,
    reason: str,
) -> ModelCard:
    """Write ``segmenter_dir``'s network with the oedema growth after it into ``out_dir``."""
    card = load_card(segmenter_dir, "segmenter")
    if card.architecture.get("oedema_growth"):
        raise ValueError(f"{card.model_version} already grows oedema")
    net = segmentation_net_of(card, segmenter_dir / "segmenter.pt")
    grown = OedemaGrowth(net, flair_z=flair_z, t2_z=t2_z, steps=steps).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(segmenter_dir / "segmenter.pt", out_dir / "segmenter.pt")
    export_segmenter(grown, out_dir / "segmenter.onnx")
    onnx_sha = file_sha256(out_dir / "segmenter.onnx")
    growth = {"flair_z": float(flair_z), "t2_z": float(t2_z), "steps": int(steps)}
    new = ModelCard(
        name="segmenter",
        model_version=model_version_for("segmenter", onnx_sha),
        onnx_sha256=onnx_sha,
        torch_sha256=file_sha256(out_dir / "segmenter.pt"),
        architecture={**card.architecture, "oedema_growth": growth},
        preprocessing=dict(card.preprocessing),
        training={
            **card.training,
            "oedema_growth": {
                "from": card.model_version,
                **growth,
                "reason": reason,
                "command": "python -m models.training.segmenter_growth"
                f" --flair-z {flair_z:g} --t2-z {t2_z:g} --steps {steps}",
            },
        },
        metrics={},
        notes=[
            *card.notes,
            f"The network of {card.model_version} followed by the oedema growth "
            f"(FLAIR > {flair_z:g} SD and T2 > {t2_z:g} SD of the normal brain, {steps} "
            f"steps on the 2 mm grid; {reason}).",
        ],
    )
    write_card(out_dir, new)
    return new


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--segmenter", type=Path, required=True)
    parser.add_argument("--flair-z", type=float, required=True)
    parser.add_argument("--t2-z", type=float, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--reason", required=True, help="where the thresholds were chosen")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    card = add_oedema_growth(
        args.segmenter,
        args.out,
        flair_z=args.flair_z,
        t2_z=args.t2_z,
        steps=args.steps,
        reason=args.reason,
    )
    logger.info("oedema growth added: %s", json.dumps({"model_version": card.model_version}))


if __name__ == "__main__":
    main()
