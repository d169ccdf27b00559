"""T1 vs T1C from the images: the voxel-by-voxel pairing beside the bright tail.

For each synthetic case (corpus ``--seed``, ``--resolution`` mm) the honest T1 and T1C
are compared both ways: :func:`dicom_conversion.contrast_pairing` (the two series on
one grid, ``enhancement_against``; the shipped rule) and the peer, each series' own
bright tail (``post_contrast_score``, the rule before, post-contrast when at least 0.05
points and 1.5 times above the other). Prints right / undecided / wrong for each and
the pairing's median time, with the load average.

    PYTHONPATH=$PWD .venv/bin/python bench/contrast_pairing.py --cases 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from dicom_conversion import MRSequence, post_contrast_score
from dicom_conversion.contrast_pairing import MIN_ENHANCEMENT_PERCENT, _rises
from models.synth import generate_case


def _tail(t1: float | None, t1c: float | None) -> str:
    if t1 is None or t1c is None:
        return "undecided"
    low, high = min(t1, t1c), max(t1, t1c)
    if high - low >= 0.05 and high >= 1.5 * low:
        return "right" if t1c > t1 else "wrong"
    return "undecided"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--resolution", type=float, default=2.0)
    args = parser.parse_args()
    tail = {"right": 0, "undecided": 0, "wrong": 0}
    pair = dict(tail)
    times = []
    spacing = (args.resolution,) * 3
    print(f"load before: {os.getloadavg()[0]:.2f}")
    for index in range(args.cases):
        study = generate_case(args.seed, index, resolution_mm=args.resolution).study
        t1, t1c = study.arrays[MRSequence.T1], study.arrays[MRSequence.T1C]
        tail[_tail(post_contrast_score(t1, spacing), post_contrast_score(t1c, spacing))] += 1
        canonical = {"t1": (t1, study.affine), "t1c": (t1c, study.affine)}
        start = time.perf_counter()
        found = _rises(canonical, ["t1", "t1c"])
        times.append(time.perf_counter() - start)
        if found is None or max(found[1].values()) < MIN_ENHANCEMENT_PERCENT:
            pair["undecided"] += 1
        else:
            pair["right" if found[1]["t1c"] > found[1]["t1"] else "wrong"] += 1
    print(f"{args.cases} cases (seed {args.seed}, {args.resolution:g} mm)")
    print(f"  voxel pairing (shipped): {pair}, median {1000 * statistics.median(times):.0f} ms")
    print(f"  bright tail (before):    {tail}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
