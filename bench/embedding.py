"""Embedding throughput: onnxruntime against eager torch, side by side, on CPU.

Crops of the inference size (4 x 64 x 64, with the 6 x 64 x 64 context planes when
the network takes them) are embedded in batches by the shipped embedder (or a freshly
initialised network of the same shape when no weights are shipped) through
``OnnxEmbedder`` and ``TorchEmbedder``; crops per second are the median of several
timed repeats after a warm-up. Also times one full-study embed
(slice selection + crops + network) and the segmenter on a 2 mm study.

    make bench BENCH=embedding ARGS="--threads 2 --batch 32"
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from models import OnnxEmbedder, OnnxSegmenter, TorchEmbedder, WeightsNotFoundError
from models.context import CONTEXT_CHANNELS, CONTEXT_SIZE_PX
from models.networks import EmbeddingNet
from models.onnx_export import export_embedder


def rate(fn, crops: np.ndarray, repeats: int) -> float:  # type: ignore[no-untyped-def]
    fn(crops)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn(crops)
        times.append(time.perf_counter() - began)
    return len(crops) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8, help="batches per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    try:
        onnx = OnnxEmbedder.load(args.model_dir, threads=args.threads)
        eager = TorchEmbedder.load(args.model_dir)
        source = f"weights {onnx.model_version}"
    except WeightsNotFoundError:
        torch.manual_seed(0)
        net = EmbeddingNet(context_channels=CONTEXT_CHANNELS).eval()
        tmp = Path(tempfile.mkdtemp()) / "embedder.onnx"
        export_embedder(net, tmp)
        onnx = OnnxEmbedder(tmp, "untrained", threads=args.threads)
        eager = TorchEmbedder(net, "untrained")
        source = "untrained network (no weights found)"

    rng = np.random.default_rng(0)
    crops = rng.normal(size=(args.batch, 4, 64, 64)).astype(np.float32)

    k = onnx.context_channels
    planes = (rng.random((args.batch, k, CONTEXT_SIZE_PX, CONTEXT_SIZE_PX)) > 0.8).astype(
        np.float32
    )

    def batched(embed):  # type: ignore[no-untyped-def]
        def run(batch: np.ndarray) -> None:
            for _ in range(args.batches):
                embed(batch, planes[: len(batch)] if k else None)

        return run

    def per_batch(value: float) -> float:
        return value * args.batches

    r_onnx = per_batch(rate(batched(onnx.embed_crops), crops, args.repeats))
    r_torch = per_batch(rate(batched(eager.embed_crops), crops, args.repeats))
    single = crops[:1]
    r_onnx_1 = per_batch(rate(batched(onnx.embed_crops), single, args.repeats))
    r_torch_1 = per_batch(rate(batched(eager.embed_crops), single, args.repeats))
    print(f"embedder: {source}; {args.threads} threads; crops 4x64x64, {k} context planes")
    print(f"| backend | batch 1 crops/s | batch {args.batch} crops/s |")
    print("|---|---|---|")
    print(f"| torch eager | {r_torch_1:.0f} | {r_torch:.0f} |")
    print(f"| onnxruntime | {r_onnx_1:.0f} | {r_onnx:.0f} |")
    print(f"onnxruntime / torch at batch {args.batch}: {r_onnx / r_torch:.2f}x")

    try:
        segmenter = OnnxSegmenter.load(args.model_dir, threads=args.threads)
    except WeightsNotFoundError:
        return
    from tests.unit.models.toy_studies import toy_study

    for spacing, extent in ((2.0, 240.0), (1.0, 200.0)):
        study = toy_study(spacing=spacing, extent_mm=extent)
        assert study.mask is not None
        segmenter.segment(study)
        began = time.perf_counter()
        segmenter.segment(study)
        seg_s = time.perf_counter() - began
        began = time.perf_counter()
        onnx.embed_case(study, study.mask)
        emb_s = time.perf_counter() - began
        print(
            f"study {study.shape} at {spacing:g} mm: segment {seg_s:.2f} s, "
            f"embed (slices + crops + network) {emb_s * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
