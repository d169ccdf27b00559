"""Segment + embed one study: a model folder against another, side by side, on CPU.

Both folders' segmenter and embedder are loaded with the same thread count; the same
study (a generated 1 mm case unless ``--case`` names a BraTS-layout case folder) is
segmented and embedded by each in alternation, and the medians and their ratio are
printed (the issue's budget: 0.5 s on 2 cores for a 1 mm study).

    .venv/bin/python bench/case_embed.py --baseline OLD_DIR --candidate models/weights --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from dicom_conversion import StudyVolumes
from models import OnnxEmbedder, OnnxSegmenter, normalised_channels
from models.synth import generate_case


def _timed(
    segmenter: OnnxSegmenter, embedder: OnnxEmbedder, study: StudyVolumes, *, shared: bool = True
) -> float:
    """One segment + embed; ``shared``: the study is normalised once for both networks
    (as the indexer does), else each network normalises it on its own."""
    began = time.perf_counter()
    if shared:
        channels = normalised_channels(study)
        mask = segmenter.segment(study, channels=channels)
        embedder.embed_case(study, mask, channels=channels)
    else:
        mask = segmenter.segment(study)
        embedder.embed_case(study, mask)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--candidate", type=Path, default=Path("models/weights"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    study = generate_case(args.seed, 0, resolution_mm=1.0).study
    sides = {
        name: (
            OnnxSegmenter.load(folder, threads=args.threads),
            OnnxEmbedder.load(folder, threads=args.threads),
        )
        for name, folder in (("baseline", args.baseline), ("candidate", args.candidate))
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    separate: list[float] = []
    for segmenter, embedder in sides.values():
        _timed(segmenter, embedder, study)  # warm-up
    for _ in range(args.repeats):
        for name, (segmenter, embedder) in sides.items():
            times[name].append(_timed(segmenter, embedder, study))
        separate.append(_timed(*sides["candidate"], study, shared=False))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, (_, embedder) in sides.items():
        seconds = medians[name]
        print(f"{name}: {embedder.model_version} segment + embed, 1 mm study: {seconds:.3f} s")
    print(f"candidate / baseline: {medians['candidate'] / medians['baseline']:.2f}")
    alone = statistics.median(separate)
    print(
        f"candidate, each network normalising the study itself: {alone:.3f} s "
        f"(normalised once / each itself: {medians['candidate'] / alone:.2f})"
    )


if __name__ == "__main__":
    main()
