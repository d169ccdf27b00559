"""The case store: archive cases and their embeddings.

:class:`VectorStore` is the role; :class:`PgVectorStore` plays it over PostgreSQL +
pgvector (its SQL split by what it owns: model versions, cases and vectors, search),
:class:`MemoryStore` in dictionaries for unit tests.
"""

from indexer.store._pg import PgVectorStore, open_store
from indexer.store._protocol import VectorStore
from indexer.store._records import (
    CaseEntry,
    SearchFilters,
    SearchHit,
    SearchResult,
    similarity_of_distance,
)
from indexer.store._versions import index_name
from indexer.store.memory import MemoryStore
from indexer.store.options import IndexOptions

__all__ = [
    "CaseEntry",
    "IndexOptions",
    "MemoryStore",
    "PgVectorStore",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "VectorStore",
    "index_name",
    "open_store",
    "similarity_of_distance",
]
