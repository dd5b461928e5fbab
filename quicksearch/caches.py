"""Caches that what visitors type can fill, bounded by one memory budget in bytes.

A public search box receives junk: random words, scanners, bots. Every cache keyed by query
text must stop growing at a budget the site sets (``Settings.cache_bytes``, 64 MiB by default),
and must hold what the garbage collector need not walk (strings, numbers, numpy arrays), so full
collections stay short however long a process runs. Engine-free.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from itertools import islice

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "WordCache",
    "configure_word_caches",
    "sized_for_build",
    "word_cache_bytes",
]

DEFAULT_CACHE_BYTES = 64 * 2**20
#: What one word cache entry costs, about: two short strings and a dict slot (measured on
#: CPython 3.11 with random 3-12 letter words: 190-230 bytes).
WORD_ENTRY_BYTES = 220
#: Share of the budget for all the word caches of the analysis chain together.
WORD_SHARE = 1 / 8
#: Entries per word cache while a build runs (see :func:`sized_for_build`).
BUILD_ENTRIES = 262_144


class WordCache(dict[str, str]):
    """A word → word map of bounded size: when full, the older half is dropped (insertion
    order), which keeps lookups plain dict lookups, as fast as ``functools.lru_cache``."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: str) -> str:
        if len(self) >= self.limit:
            self.shrink(self.limit // 2)
        self[key] = value
        return value

    def shrink(self, size: int) -> None:
        """Drop the oldest entries until at most ``size`` are left."""
        for old in list(islice(self, max(0, len(self) - size))):
            del self[old]

    @property
    def nbytes(self) -> int:
        return len(self) * WORD_ENTRY_BYTES


_word_caches: list[WordCache] = []


def word_cache(budget: int = DEFAULT_CACHE_BYTES) -> WordCache:
    """A new word cache, registered so that :func:`configure_word_caches` can resize it."""
    cache = WordCache(1)
    _word_caches.append(cache)
    configure_word_caches(budget)
    return cache


def configure_word_caches(budget: int) -> None:
    """Share ``budget`` × :data:`WORD_SHARE` among the registered word caches (at least 64
    entries each, so a tiny budget still caches a query's own words)."""
    each = int(budget * WORD_SHARE) // max(1, len(_word_caches)) // WORD_ENTRY_BYTES
    for cache in _word_caches:
        cache.limit = max(64, each)
        cache.shrink(cache.limit)


def word_cache_bytes() -> int:
    """Bytes the word caches hold now, about."""
    return sum(cache.nbytes for cache in _word_caches)


@contextlib.contextmanager
def sized_for_build() -> Iterator[None]:
    """Word caches of :data:`BUILD_ENTRIES` entries while a build runs, and in the worker
    processes it forks. A build analyses a finite corpus, not visitors' junk, and with caches
    cut to the query budget it re-stems so often that it took 74 s instead of 48 on the full
    corpus. The query budget is back when the build ends."""
    limits = [cache.limit for cache in _word_caches]
    for cache in _word_caches:
        cache.limit = max(cache.limit, BUILD_ENTRIES)
    try:
        yield
    finally:
        for cache, limit in zip(_word_caches, limits, strict=True):
            cache.limit = limit
            cache.shrink(limit)
