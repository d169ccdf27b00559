"""The HNSW index options of the case store, validated once: :class:`IndexOptions`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_EF_CONSTRUCTION",
    "DEFAULT_EF_SEARCH",
    "DEFAULT_M",
    "IndexOptions",
]

#: HNSW build parameters (pgvector's ``m`` and ``ef_construction``) used by default. On
#: 1,000,000 clustered 128-d vectors (docs/benchmarks.md) m = 24 / ef_construction = 128
#: reach recall@10 0.997 at the default ef_search (m = 16 / 64: 0.873), for a build twice
#: as long and an index 20 % larger.
DEFAULT_M = 24
DEFAULT_EF_CONSTRUCTION = 128
#: ``hnsw.ef_search`` used by default; chosen from the recall curve in docs/benchmarks.md.
DEFAULT_EF_SEARCH = 100


@dataclass(frozen=True)
class IndexOptions:
    """pgvector HNSW options: ``m`` and ``ef_construction`` when a model version's index
    is built, ``ef_search`` for every search.

    The ranges are pgvector's own (m 2-100, ef_construction 4-1000 and at least twice
    m, ef_search 1-1000); anything else raises a :class:`ValueError` naming the argument.
    """

    m: int = DEFAULT_M
    ef_construction: int = DEFAULT_EF_CONSTRUCTION
    ef_search: int = DEFAULT_EF_SEARCH

    def __post_init__(self) -> None:
        _check_range("m", self.m, 2, 100)
        _check_range("ef_construction", self.ef_construction, 4, 1000)
        _check_range("ef_search", self.ef_search, 1, 1000)
        if self.ef_construction < 2 * self.m:
            raise ValueError(
                f"Argument 'ef_construction' ({self.ef_construction}) must be at least"
                f" twice argument 'm' ({self.m})."
            )


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Argument '{name}' must be an int, not {type(value).__name__}.")
    if not low <= value <= high:
        raise ValueError(f"Argument '{name}' must be between {low} and {high}, not {value}.")
