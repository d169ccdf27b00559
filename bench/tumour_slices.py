"""Choosing and cropping the tumour slices: this checkout against an earlier revision.

The earlier revision's ``models/slices.py`` and ``models/context.py`` (read with
``git show``) are loaded beside the current ones; both cut the same generated 1 mm study
with the same mask in alternation, the outputs are checked equal, and the medians and
their ratio are printed.

    .venv/bin/python bench/tumour_slices.py --baseline-rev 74404b1 --repeats 15
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from models import OnnxSegmenter, normalised_channels
from models.slices import select_tumour_slices
from models.synth import generate_case


def _module_at(revision: str, path: str, name: str, folder: Path) -> ModuleType:
    """``path`` as it was at ``revision``, imported as module ``name``."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    source = source.replace("from models.context import", "from baseline_context import")
    file = folder / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-rev", required=True)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _module_at(args.baseline_rev, "models/context.py", "baseline_context", folder)
        baseline = _module_at(args.baseline_rev, "models/slices.py", "baseline_slices", folder)
        study = generate_case(args.seed, 0, resolution_mm=1.0).study
        channels = normalised_channels(study)
        mask = OnnxSegmenter.load(None, threads=2).segment(study, channels=channels)
        sides = {
            "baseline": lambda: baseline.select_tumour_slices(study, mask, channels=channels),
            "current": lambda: select_tumour_slices(study, mask, channels=channels),
        }
        old, new = sides["baseline"](), sides["current"]()
        same = all(
            np.array_equal(np.asarray(getattr(old, f)), np.asarray(getattr(new, f)))
            for f in ("crops", "context", "centroid_ras_mm", "areas_mm2", "indices")
        )
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(args.repeats):
            for name, run in sides.items():
                began = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - began)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:9s} {value * 1000:7.1f} ms")
    ratio = medians["current"] / medians["baseline"]
    print(f"outputs equal: {same}; ratio current/baseline {ratio:.2f}")


if __name__ == "__main__":
    main()
