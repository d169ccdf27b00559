"""Vector search benchmark: HNSW (pgvector) against the exact scan, side by side.

N random-but-clustered unit vectors go into simcase's real schema (cases + halfvec
embeddings); the HNSW index is built by ``PgVectorStore.register_model`` and timed;
then held-out queries run through ``PgVectorStore.search`` at several ``ef_search``
values and once as an exact scan. Recall@10 is measured against numpy's exact top 10 on
the same half-precision vectors.

    make bench BENCH=search ARGS="--n 1000000 --m 16 --ef-construction 64"

The load average of the machine is printed with every row (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg.conninfo import make_conninfo

from dicom_conversion import Diagnosis
from indexer.database import create_pool, open_database
from indexer.migrate import migrate
from indexer.store import IndexOptions, PgVectorStore


def load() -> str:
    """The 1-minute load average (the machine is shared with other jobs)."""
    return f"{os.getloadavg()[0]:.2f}"


def clustered(n: int, dim: int, clusters: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        which = rng.integers(0, clusters, m)
        block = centres[which] + 0.5 * rng.standard_normal((m, dim)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top10(stored: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The true top 10 by cosine distance, as pgvector computes it on ``halfvec`` values.

    Both sides are rounded to half precision (the query is sent as a ``halfvec``), and
    cosine divides by the norms of the rounded vectors, which are no longer exactly 1.
    """
    norms = np.linalg.norm(stored.astype(np.float64), axis=1)
    truth = []
    for q in queries:
        q16 = q.astype(np.float16).astype(np.float64)
        cosine = (stored @ q16) / (norms * np.linalg.norm(q16))
        top = np.argpartition(-cosine, 10)[:10]
        truth.append({int(i) for i in top})
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20)
    parser.add_argument("--ef", type=int, nargs="+", default=[20, 40, 80, 100, 200])
    parser.add_argument("--m", type=int, default=IndexOptions.m)
    parser.add_argument("--ef-construction", type=int, default=IndexOptions.ef_construction)
    parser.add_argument(
        "--maintenance-work-mem", default="2GB", help="for the HNSW build (the graph in memory)"
    )
    parser.add_argument(
        "--build-workers", type=int, default=None, help="max_parallel_maintenance_workers"
    )
    parser.add_argument(
        "--shared-buffers",
        default=None,
        help="restart the embedded server with this shared_buffers (default: initdb's 128MB)",
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    data = clustered(args.n + args.queries, args.dim, max(10, args.n // 1000), rng)
    vectors, queries = data[: args.n], data[args.n :]
    stored = vectors.astype(np.float16).astype(np.float32)  # what halfvec keeps

    with tempfile.TemporaryDirectory() as tmp:
        if args.shared_buffers and not args.database_url:
            with open_database(None, Path(tmp)) as url, psycopg.connect(url) as conn:
                conn.autocommit = True
                conn.execute(f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}'")
        run_bench(args, queries, vectors, stored, Path(tmp))


def run_bench(
    args: argparse.Namespace,
    queries: np.ndarray,
    vectors: np.ndarray,
    stored: np.ndarray,
    tmp: Path,
) -> None:
    with open_database(args.database_url, tmp) as url:
        migrate(url)
        options = f"-c maintenance_work_mem={args.maintenance_work_mem}"
        if args.build_workers is not None:
            options += f" -c max_parallel_maintenance_workers={args.build_workers}"
        pool = create_pool(make_conninfo(url, options=options), max_size=2)
        store = PgVectorStore(pool, IndexOptions(m=args.m, ef_construction=args.ef_construction))
        with pool.connection() as conn:
            settings = conn.execute(
                "SELECT current_setting('shared_buffers'), current_setting('maintenance_work_mem'),"
                " current_setting('max_parallel_maintenance_workers'),"
                " current_setting('max_parallel_workers_per_gather')"
            ).fetchone()
            conn.execute(
                "INSERT INTO model_versions (model_version, dim, state) VALUES ('bench', %s, "
                "'active')",
                (args.dim,),
            )
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy("COPY cases (case_id, diagnosis) FROM STDIN") as copy:
                    for i in range(args.n):
                        copy.write_row((f"c{i}", Diagnosis.labels()[i % 3]))
                with cur.copy(
                    "COPY embeddings (case_id, model_version, embedding) FROM STDIN "
                    "WITH (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["text", "text", "halfvec"])
                    for i in range(args.n):
                        copy.write_row((f"c{i}", "bench", HalfVector(vectors[i])))
            conn.execute("ANALYZE cases")
            conn.execute("ANALYZE embeddings")
            load_s = time.perf_counter() - t0
        load_after_load = load()
        t0 = time.perf_counter()
        store.register_model("bench", args.dim)  # builds the HNSW index
        build_s = time.perf_counter() - t0
        with pool.connection() as conn:
            size = conn.execute(
                "SELECT pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_index"
                " WHERE indexrelid::regclass::text LIKE 'embeddings_hnsw_%'"
            ).fetchone()

        truth = exact_top10(stored, queries)

        def run(ef: int, exact: bool, count: int) -> tuple[float, float, float]:
            store.options = replace(store.options, ef_search=ef)
            latencies, recalls = [], []
            for q, expected in zip(queries[:count], truth[:count], strict=True):
                t = time.perf_counter()
                hits = store.search(q, k=10, exact=exact).hits
                latencies.append((time.perf_counter() - t) * 1000)
                got = {int(h.case_id[1:]) for h in hits}
                recalls.append(len(got & expected) / 10)
            return (
                float(np.percentile(latencies, 50)),
                float(np.percentile(latencies, 99)),
                float(np.mean(recalls)),
            )

        run(40, False, 50)  # warm the index into memory
        assert settings is not None and size is not None
        print(
            f"n={args.n} dim={args.dim} m={args.m} ef_construction={args.ef_construction}"
            f" shared_buffers={settings[0]} maintenance_work_mem={settings[1]}"
            f" max_parallel_maintenance_workers={settings[2]}"
            f" max_parallel_workers_per_gather={settings[3]}"
        )
        print(
            f"load={load_s:.1f}s (loadavg {load_after_load}) hnsw_build={build_s:.1f}s"
            f" (loadavg {load()}) index size {size[0]}",
            flush=True,
        )
        exact_p50, exact_p99, exact_recall = run(40, True, args.exact_queries)
        print(
            f"exact scan: p50 {exact_p50:.2f} ms  p99 {exact_p99:.2f} ms  recall"
            f" {exact_recall:.3f}  loadavg {load()}",
            flush=True,
        )
        print("ef_search  recall@10  p50_ms  p99_ms  exact_p50/hnsw_p50  loadavg")
        for ef in args.ef:
            p50, p99, recall = run(ef, False, args.queries)
            print(
                f"{ef:9d}  {recall:9.3f}  {p50:6.2f}  {p99:6.2f}  {exact_p50 / p50:8.1f}x"
                f"  {load()}",
                flush=True,
            )
        exact_p50, exact_p99, exact_recall = run(40, True, args.exact_queries)
        print(
            f"exact scan again: p50 {exact_p50:.2f} ms  p99 {exact_p99:.2f} ms  recall"
            f" {exact_recall:.3f}  loadavg {load()}",
            flush=True,
        )
        if args.explain:
            store.options = replace(store.options, ef_search=args.ef[-1])
            print(store.explain_search(queries[0], k=10))
        pool.close()


if __name__ == "__main__":
    main()
