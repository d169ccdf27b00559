"""Vector search benchmark: HNSW (pgvector) against the exact scan, side by side.

N random-but-clustered unit vectors go into simcase's real schema (cases + halfvec
embeddings); the HNSW index is built by ``PgVectorStore.register_model`` and timed;
then held-out queries run through ``PgVectorStore.search`` at several ``ef_search``
values and once as an exact scan. Recall@10 is measured against numpy's exact top 10 on
the same half-precision vectors.

    .venv/bin/python bench/search.py --n 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from pgvector import HalfVector

from indexer.database import create_pool, open_database
from indexer.migrate import migrate
from indexer.store import PgVectorStore


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20)
    parser.add_argument("--ef", type=int, nargs="+", default=[20, 40, 80, 100, 200])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    data = clustered(args.n + args.queries, args.dim, max(10, args.n // 1000), rng)
    vectors, queries = data[: args.n], data[args.n :]
    stored = vectors.astype(np.float16).astype(np.float32)  # what halfvec keeps

    with tempfile.TemporaryDirectory() as tmp, open_database(args.database_url, Path(tmp)) as url:
        migrate(url)
        pool = create_pool(url, max_size=2)
        store = PgVectorStore(pool)
        with pool.connection() as conn:
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute(
                "INSERT INTO model_versions (model_version, dim, state) VALUES ('bench', %s, "
                "'active')",
                (args.dim,),
            )
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                with cur.copy("COPY cases (case_id, diagnosis) FROM STDIN") as copy:
                    for i in range(args.n):
                        copy.write_row((f"c{i}", ("glioma", "meningioma", "metastasis")[i % 3]))
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
        t0 = time.perf_counter()
        store.register_model("bench", args.dim)  # builds the HNSW index
        build_s = time.perf_counter() - t0

        truth = [set(np.argsort(-(stored @ q))[:10]) for q in queries]

        def run(ef: int, exact: bool, count: int) -> tuple[float, float, float]:
            store.ef_search = ef
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

        run(40, False, 10)  # warm the index into memory
        exact_p50, exact_p99, exact_recall = run(40, True, args.exact_queries)
        print(f"n={args.n} dim={args.dim} load={load_s:.1f}s hnsw_build={build_s:.1f}s")
        print(
            f"exact scan: p50 {exact_p50:.2f} ms  p99 {exact_p99:.2f} ms  recall {exact_recall:.3f}"
        )
        print("ef_search  recall@10  p50_ms  p99_ms  exact_p50/hnsw_p50")
        for ef in args.ef:
            p50, p99, recall = run(ef, False, args.queries)
            print(f"{ef:9d}  {recall:9.3f}  {p50:6.2f}  {p99:6.2f}  {exact_p50 / p50:8.1f}x")
        pool.close()


if __name__ == "__main__":
    main()
