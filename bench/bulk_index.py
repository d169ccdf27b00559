"""Bulk indexing throughput (issue 6), side by side with plain nibabel loading.

BraTS-size cases (1 mm, 240x240x155, four images and the given seg as mask), generated
once into a cache folder, are indexed into a fresh database by
``indexer.bulk.index_sources`` with ``workers=1`` and ``workers=2``; the peer is
nibabel loading the same five files of every case (``np.asanyarray(img.dataobj)``),
in one process and in two: the floor any importer reading these files pays. A per-stage
split (``load_source`` vs ``embed_study`` vs the database write) follows. Run from the
repository root:

    make bench BENCH=bulk_index ARGS="--cases 20 --cache /tmp/bench-bulk"

``--uncompressed`` measures the same cases from a gunzipped copy (``.nii``), to show
what gzip inflation costs. The load average is printed with every row.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import psycopg

from indexer.bulk import ImportSummary, discover, index_sources, load_source
from indexer.database import EmbeddedPostgres, create_pool
from indexer.migrate import migrate
from indexer.pipeline import embed_study, load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus

SEED = 4343


def corpus(cache: Path, n_cases: int) -> Path:
    root = cache / "corpus"
    if not (root / "cases.csv").is_file():
        write_corpus(root, n_cases, SEED, resolution_mm=1.0, workers=2)
    return root


def uncompressed(root: Path, cache: Path) -> Path:
    """A copy of the corpus with every ``.nii.gz`` gunzipped to ``.nii``."""
    out = cache / "corpus-nii"
    if (out / "cases.csv").is_file():
        return out
    for path in sorted(root.rglob("*")):
        target = out / path.relative_to(root)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.name.endswith(".nii.gz"):
            target.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(path, "rb") as src, target.with_suffix("").open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        elif path.name != "cases.csv":
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    shutil.copy2(root / "cases.csv", out / "cases.csv")  # last: marks the copy complete
    return out


def loadavg() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def nibabel_case(case_dir: str) -> int:
    total = 0
    for path in sorted(Path(case_dir).glob("*.nii*")):
        image: Any = nib.load(path)
        total += int(np.asanyarray(image.dataobj).size)
    return total


def peer(case_dirs: list[str], workers: int) -> float:
    started = time.perf_counter()
    if workers == 1:
        for case in case_dirs:
            nibabel_case(case)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(nibabel_case, case_dirs))
    return time.perf_counter() - started


def new_database(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = psycopg.conninfo.make_conninfo(server, dbname=name)
    migrate(url)
    return url


def simcase(server: str, root: Path, workers: int, model_dir: Path | None, tag: str) -> float:
    url = new_database(server, f"bench_{tag}")
    pool = create_pool(url, max_size=2)
    try:
        models = load_models(model_dir, threads=0 if workers == 1 else 1)
        summary = ImportSummary()
        sources = discover(root, summary)
        started = time.perf_counter()
        index_sources(
            sources,
            PgVectorStore(pool),
            models,
            workers=workers,
            model_dir=model_dir,
            summary=summary,
        )
        elapsed = time.perf_counter() - started
        if summary.indexed != len(sources):
            raise RuntimeError(f"indexed {summary.indexed} of {len(sources)}: {summary.failed}")
        return elapsed
    finally:
        pool.close()


def stages(root: Path, model_dir: Path | None, n: int) -> dict[str, list[float]]:
    """Per-case time of load_source and embed_study, in this process (all cores)."""
    models = load_models(model_dir)
    out: dict[str, list[float]] = {"load_source": [], "embed_study": []}
    summary = ImportSummary()
    for source in discover(root, summary)[:n]:
        t0 = time.perf_counter()
        study = load_source(source.uri)
        t1 = time.perf_counter()
        embed_study(study, models)
        t2 = time.perf_counter()
        out["load_source"].append(t1 - t0)
        out["embed_study"].append(t2 - t1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bench-bulk"))
    parser.add_argument("--model-dir", type=Path, default=os.environ.get("SIMCASE_MODEL_DIR"))
    parser.add_argument(
        "--uncompressed", action="store_true", help="read a gunzipped copy of the corpus"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    root = corpus(args.cache, args.cases)
    if args.uncompressed:
        root = uncompressed(root, args.cache)
    summary = ImportSummary()
    case_dirs = [s.uri for s in discover(root, summary)]
    n = len(case_dirs)
    print(f"{n} cases in {root}; models: {args.model_dir or 'shipped'}; load: {os.getloadavg()}")
    work = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    work.chmod(0o755)
    pg = EmbeddedPostgres(work / "pgdata")
    try:
        server = pg.start()
        peer(case_dirs[:2], 1)  # warm the page cache
        rows = []
        for workers in args.workers:
            before = loadavg()
            p = peer(case_dirs, workers)
            s = simcase(server, root, workers, args.model_dir, f"w{workers}")
            load = f"{before} -> {loadavg()}"
            rows.append((workers, s, p, load))
            print(
                f"workers={workers}: simcase {n / s:.2f} cases/s ({s:.1f} s), "
                f"nibabel {n / p:.2f} cases/s ({p:.1f} s), ratio simcase/nibabel time "
                f"{s / p:.2f}, load average {load}",
                flush=True,
            )
        split = stages(root, args.model_dir, min(n, 6))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        "| workers | simcase cases/s | nibabel cases/s | time ratio simcase/nibabel"
        " | load average |"
    )
    print("|---|---|---|---|---|")
    for workers, s, p, load in rows:
        print(f"| {workers} | {n / s:.2f} | {n / p:.2f} | {s / p:.2f} | {load} |")
    print()
    for name, values in split.items():
        print(f"median {name} per case (one process, all cores): {statistics.median(values):.3f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
