"""Caches that queries fill stay within their byte budget, whatever visitors type, and hold
nothing the garbage collector must walk."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quicksearch import Searcher, Settings, build_index
from quicksearch.caches import DEFAULT_CACHE_BYTES, configure_word_caches

from .conftest import FIXTURES

BUDGET = 2 * 2**20
junk_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12)
junk_queries = st.lists(junk_words, min_size=1, max_size=3).map(" ".join)


@pytest.fixture(scope="module")
def small_budget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    index = tmp_path_factory.mktemp("caches") / "ix"
    build_index(FIXTURES / "pages", index, jobs=1)
    searcher = Searcher(index, settings=Settings(cache_bytes=BUDGET))
    try:
        yield searcher
    finally:
        searcher.close()
        configure_word_caches(DEFAULT_CACHE_BYTES)  # the word caches are the process's


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(queries=st.lists(junk_queries, min_size=50, max_size=400), seed_words=junk_words)
def test_caches_stay_within_the_budget_after_any_junk(
    small_budget: Searcher, queries: list[str], seed_words: str
) -> None:
    for i, query in enumerate(queries):
        small_budget.search(f"{query} {seed_words}{i}", limit=10)
        small_budget.complete(query)
    sizes = small_budget.cache_sizes()
    assert set(sizes) >= {"words", "postings", "counts"}
    assert sum(sizes.values()) <= BUDGET, sizes


def test_many_distinct_junk_queries_add_no_tracked_objects(small_budget: Searcher) -> None:
    # Fill the caches first: the snippets' pattern cache (1,024 term sets) and the re module's
    # (512) fill up too.
    for i in range(3_000):
        small_budget.search(f"zq{i}x acid wx{i}", limit=10)
    gc.collect()
    before = Counter(type(o).__name__ for o in gc.get_objects())
    for i in range(3_000):
        small_budget.search(f"qzx{i} vbn{i * 7} acid", limit=10)
    gc.collect()
    grown = Counter(type(o).__name__ for o in gc.get_objects()) - before
    # An unbounded cache would add an object or more per query: 3,000 here.
    assert grown.total() < 1_000, grown.most_common(5)
    assert sum(small_budget.cache_sizes().values()) <= BUDGET


def test_a_build_has_large_word_caches_and_gives_the_budget_back() -> None:
    from quicksearch.caches import BUILD_ENTRIES, _word_caches, sized_for_build

    configure_word_caches(BUDGET)
    before = [cache.limit for cache in _word_caches]
    with sized_for_build():
        assert all(cache.limit >= BUILD_ENTRIES for cache in _word_caches)
    assert [cache.limit for cache in _word_caches] == before
    configure_word_caches(DEFAULT_CACHE_BYTES)
