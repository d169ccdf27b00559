"""The shipped segmenter's ONNX run under several onnxruntime session options.

The network's input for one generated 1 mm study (normalised, resampled to 2 mm, cut to
the brain box and padded, as ``OnnxSegmenter.segment`` feeds it) is run by a session
with onnxruntime's defaults and by sessions that change one option each, in
alternation; the median wall and CPU time per run are printed, and whether each
session's scores equal the default's bit for bit.

    .venv/bin/python bench/onnx_session_options.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np

from models import normalised_channels
from models import segmenter as module
from models.registry import SHIPPED_MODEL_DIR
from models.study_arrays import voxel_spacing
from models.synth import generate_case


def _session(threads: int = 2, **options: Any) -> Any:
    import onnxruntime

    settings = onnxruntime.SessionOptions()
    settings.intra_op_num_threads = threads
    settings.inter_op_num_threads = 1
    if "spinning" in options:
        settings.add_session_config_entry("session.intra_op.allow_spinning", options["spinning"])
    if "arena" in options:
        settings.enable_cpu_mem_arena = options["arena"]
    if "level" in options:
        settings.graph_optimization_level = getattr(
            onnxruntime.GraphOptimizationLevel, options["level"]
        )
    path = str(SHIPPED_MODEL_DIR / "segmenter.onnx")
    return onnxruntime.InferenceSession(path, settings, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    study = generate_case(args.seed, 0, resolution_mm=1.0).study
    channels = normalised_channels(study)
    grid = module.segmenter_grid_shape(channels.shape[1:], voxel_spacing(study.affine))
    small = module.resample_channels(channels, grid)
    box = module.brain_box(np.any(small != 0, axis=0))
    padded, _ = module.pad_to_multiple(small[(slice(None), *box)])
    batch = padded[None]
    sessions = {
        "default (2 threads, spinning, arena, ORT_ENABLE_ALL)": _session(),
        "no spinning": _session(spinning="0"),
        "no memory arena": _session(arena=False),
        "ORT_ENABLE_EXTENDED": _session(level="ORT_ENABLE_EXTENDED"),
        "1 thread": _session(threads=1),
    }
    name = next(iter(sessions.values())).get_inputs()[0].name
    outputs = {k: s.run(None, {name: batch})[0].tobytes() for k, s in sessions.items()}
    reference = next(iter(outputs.values()))
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in sessions}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for key, session in sessions.items():
            wall, cpu = time.perf_counter(), time.process_time()
            session.run(None, {name: batch})
            times[key].append((time.perf_counter() - wall, time.process_time() - cpu))
        loads.append(os.getloadavg()[0])
    print(f"input {list(batch.shape)} {batch.dtype}, C-contiguous {batch.flags.c_contiguous}")
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f}")
    for key, runs in times.items():
        wall = statistics.median(r[0] for r in runs) * 1000
        cpu = statistics.median(r[1] for r in runs) * 1000
        same = outputs[key] == reference
        print(f"{key:52s} wall {wall:6.1f} ms, CPU {cpu:6.1f} ms, scores identical: {same}")


if __name__ == "__main__":
    main()
