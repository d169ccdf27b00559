"""The HNSW index is built with the store's m and ef_construction."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.database import create_pool
from indexer.store import CaseEntry, IndexOptions, PgVectorStore, index_name

pytestmark = pytest.mark.integration


def test_register_model_builds_the_index_with_the_given_parameters(
    empty_database_url: str,
) -> None:
    from indexer.migrate import migrate

    migrate(empty_database_url)
    pool = create_pool(empty_database_url, max_size=2)
    try:
        store = PgVectorStore(pool, IndexOptions(m=24, ef_construction=128))
        store.register_model("v-hnsw", 8)
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT c.reloptions FROM pg_class c WHERE c.relname = %s",
                (index_name("v-hnsw"),),
            ).fetchone()
        assert row is not None
        assert sorted(row[0]) == ["ef_construction=128", "m=24"]
        rng = np.random.default_rng(1)
        for i in range(40):
            store.upsert(
                CaseEntry(case_id=f"c{i}", diagnosis="glioma"), "v-hnsw", rng.standard_normal(8)
            )
        query = rng.standard_normal(8)
        indexed = [h.case_id for h in store.search(query, k=5).hits]
        exact = [h.case_id for h in store.search(query, k=5, exact=True).hits]
        assert len(indexed) == 5
        assert indexed == exact  # 40 rows: the graph search is exact
        assert "embeddings_hnsw_" in store.explain_search(query, k=5)
    finally:
        pool.close()
