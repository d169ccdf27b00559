"""Where one embedder training step spends its time (crop windows, rendering, network, losses).

    make bench BENCH=embedder_step_profile ARGS="--cases 45 --workers 15 --device cuda"

Generates ``--cases`` generator-A cases in worker processes, then times each part of
:func:`models.training.embedder_batches.batch_loss`'s work for batches of
``--per-class`` crops per diagnosis (two views each), synchronising the device between
parts. Prints one JSON line of milliseconds per step.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from pytorch_metric_learning import losses, miners

from dicom_conversion import Diagnosis
from models.training.augment import randomised_views
from models.training.crops import crop_set_of
from models.training.embedder_batches import balanced_batches, crop_contexts
from models.training.embedder_config import EmbedderConfig
from models.training.synthetic_source import synthetic_cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=45)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--per-class", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    made = list(synthetic_cases(5, args.cases, workers=args.workers, volumes=False))
    train = crop_set_of(
        ((c.crops, c.diagnosis, c.patient_id) for c in made if c.crops), Diagnosis.labels()
    )
    config = EmbedderConfig(per_class=args.per_class)
    device = args.device
    net = config.network().to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3)
    miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    triplet = losses.TripletMarginLoss(margin=0.2)
    ntxent = losses.NTXentLoss(temperature=0.1)
    rng = np.random.default_rng(0)
    gen = torch.Generator(device=device).manual_seed(0)

    def sync() -> float:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    parts: dict[str, list[float]] = {
        k: [] for k in ("index", "views", "forward", "losses", "backward")
    }
    batches = list(balanced_batches(train.labels, config.per_class, rng))
    for step in range(args.steps):
        batch = batches[step % len(batches)]
        t0 = sync()
        cases = train.case_index[batch]
        crops, tissue = train.crops[batch], train.tissue[batch]
        planes = crop_contexts(train, batch, rng, config.segmented_context)
        flips = rng.random(len(batch)) < 0.5
        t1 = sync()
        views = [
            randomised_views(crops, tissue, planes, train.shares[cases], rng, gen, flips=flips)
            for _ in range(2)
        ]
        t2 = sync()
        emb = net(torch.cat([v[0] for v in views]), torch.cat([v[1] for v in views]))
        t3 = sync()
        y = torch.from_numpy(np.tile(train.labels[batch], 2)).to(device)
        inst = torch.from_numpy(np.tile(train.instance[cases], 2)).to(device)
        loss = triplet(emb, y, miner(emb, y)) + 0.5 * ntxent(emb, inst)
        t4 = sync()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        t5 = sync()
        if step >= 2:  # the first steps warm up kernels and allocators
            for key, value in zip(
                parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
            ):
                parts[key].append(value * 1000.0)
    out = {k: round(float(np.median(v)), 2) for k, v in parts.items()}
    out["crops_per_step"] = 2 * len(batches[0])
    out["device"] = torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
