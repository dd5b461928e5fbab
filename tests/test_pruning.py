"""Pruned ranking returns what scoring every matching page returns (ties aside).

The ranker skips pages whose score bound cannot reach the results (ranking/evaluation.py); here a
generated index of 1,500 pages with a skewed vocabulary, repeated questions and subjects is
queried with generated queries (short and long, typos, unfinished words, OR, phrases,
exclusions, subject filters, paging, field boosts), once pruned and once exhaustively.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from functools import partialmethod
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quicksearch import Document, Searcher, build_index, open_index
from quicksearch.ranking import Ranker
from quicksearch.ranking.scoring import ScoringModel

WORDS = [
    "acid", "buffer", "cell", "energy", "wave", "protein", "membrane", "enzyme", "charge",
    "current", "voltage", "market", "price", "demand", "supply", "theory", "model", "memory",
    "learning", "student", "feedback", "empire", "trade", "war", "treaty", "planet", "orbit",
    "gravity", "force", "motion", "light", "photon", "electron", "atom", "molecule", "bond",
    "reaction", "catalyst", "solution", "ph", "gene", "mutation", "species", "habitat",
    "climate", "carbon", "oxygen", "glucose", "insulin", "neuron", "synapse", "signal",
]  # fmt: skip
SUBJECTS = ["Biology", "Chemistry", "Physics", "Economics", "History"]


def _documents(count: int = 1500) -> list[Document]:
    rng = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]  # Zipf-like: a few common words

    def text(n: int) -> str:
        return " ".join(rng.choices(WORDS, weights, k=n))

    docs = []
    for i in range(count):
        question = f"What is {text(rng.randint(2, 6))}?"
        if i % 50 == 7 and docs:
            question = docs[i - 7].question  # repeated questions, for collapsing
        docs.append(
            Document(
                url=f"/p/{i}",
                question=question,
                answer=f"{text(rng.randint(10, 60))}. {text(rng.randint(5, 40))}.",
                keywords=tuple(rng.sample(WORDS, 3)),
                subject=SUBJECTS[i % len(SUBJECTS)],
            )
        )
    return docs


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    root: Path = tmp_path_factory.mktemp("pruning") / "ix"
    build_index(_documents(), root)
    with open_index(root) as searcher:
        yield searcher


def _typo(word: str, at: int) -> str:
    at %= len(word)
    return word[:at] + word[at + 1 :] if len(word) > 4 else word + "x"


word = st.sampled_from(WORDS)
query_word = st.one_of(
    word,
    word,
    st.builds(_typo, word, st.integers(0, 10)),  # a typo
    word.map(lambda w: w[:3]),  # unfinished (as the last word)
    st.just("zzyzx"),  # a word no page has
)
queries = st.one_of(
    st.lists(query_word, min_size=1, max_size=4).map(" ".join),
    st.lists(word, min_size=5, max_size=14).map(" ".join),  # a pasted question
    st.builds(lambda a, b, c: f"{a} OR {b} {c}", word, word, word),
    st.builds(lambda a, b, c: f'"{a} {b}" {c}', word, word, word),
    st.builds(lambda a, b, c: f"{a} {b} -{c}", word, word, word),
)


def _ranked(hits: list) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    return [(h.url, round(h.score, 3)) for h in hits]


def _same_ranking(a: list[tuple[str, float]], b: list[tuple[str, float]]) -> bool:
    """The same pages with the same scores, in the same order but for (near) ties."""
    if len(a) != len(b):
        return False
    close = all(abs(x[1] - y[1]) <= 1e-3 * max(1.0, abs(x[1])) for x, y in zip(a, b, strict=True))
    return close and (a == b or sorted(a) == sorted(b))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    query=queries,
    page=st.integers(1, 3),
    limit=st.sampled_from([5, 10, 30]),
    subject=st.sampled_from([None, None, "chemistry"]),
    collapse=st.booleans(),
    boosts=st.sampled_from([None, {"question": 1, "answer": 4}]),
)
def test_pruned_ranking_equals_exhaustive(
    index: Searcher,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    page: int,
    limit: int,
    subject: str | None,
    collapse: bool,
    boosts: dict[str, float] | None,
) -> None:
    def run() -> tuple[list[tuple[str, float]], int, dict[str, int]]:
        results = index.search(
            query,
            page=page,
            limit=limit,
            subject=subject,
            collapse_duplicates=collapse,
            boosts=boosts,
        )
        return _ranked(results.hits), results.total, results.facets

    pruned = run()
    with monkeypatch.context() as patch:
        patch.setattr(Ranker, "rank", partialmethod(Ranker.rank, prune=False))
        # The reference also lists the pages with every word even when the rarest word's
        # postings show they cannot fill a page (the ranker skips that listing then).
        plan = ScoringModel.plan

        def unbounded(self: ScoringModel, *args):  # type: ignore[no-untyped-def]
            planned = plan(self, *args)
            return dataclasses.replace(planned, size=planned.size + 10**9)

        patch.setattr(ScoringModel, "plan", unbounded)
        exhaustive = run()
    assert pruned[1:] == exhaustive[1:], query  # totals and facets are exact either way
    assert _same_ranking(pruned[0], exhaustive[0]), (query, pruned[0], exhaustive[0])


def test_pruning_happens(index: Searcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """The long-query path really skips pages (else the test above proves nothing)."""
    scored: list[int] = []
    original = Ranker._prune

    def spy(self: Ranker, plans, candidates, *args, **kwargs):  # type: ignore[no-untyped-def]
        kept = original(self, plans, candidates, *args, **kwargs)
        scored.append(len(candidates) - len(kept))
        return kept

    monkeypatch.setattr(Ranker, "_prune", spy)
    index.search("acid buffer cell energy wave protein membrane zzyzx")
    assert scored and scored[0] > 0


@pytest.mark.parametrize("share", [0.01, 0.5, 1.0])
def test_totals_and_facets_count_each_question_once(index: Searcher, share: float) -> None:
    """Large match sets are counted over groups of repeated pages, small ones by sorting:
    both equal a brute-force count of distinct questions (and of subject-question pairs)."""
    from collections import Counter

    ranker = index._require_engine().ranker
    rng = random.Random(3)
    docs = sorted(rng.sample(range(ranker.size), int(ranker.size * share)))
    import numpy as np

    array = np.array(docs, dtype=np.int64)
    questions = ranker.pages.question_codes
    subjects = [ranker.pages.subject_names[c] for c in ranker.pages.subject_codes]
    assert ranker.pages.distinct(array) == len({int(questions[d]) for d in docs})
    pairs = {(subjects[d], int(questions[d])) for d in docs}
    assert ranker.pages.facets(array, collapse=True) == dict(Counter(s for s, _ in pairs))
    assert ranker.pages.facets(array, collapse=False) == dict(Counter(subjects[d] for d in docs))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=st.lists(word, min_size=5, max_size=14).map(" ".join), collapse=st.booleans())
def test_skipping_common_words_keeps_the_ranking_and_bounds_the_total(
    index: Searcher, monkeypatch: pytest.MonkeyPatch, query: str, collapse: bool
) -> None:
    """With the exact-total threshold lowered to this small index's scale, long queries skip
    their commonest words' lists: the ranking is unchanged, and the total and facets are lower
    bounds of the exact ones, never below the threshold."""
    from quicksearch.ranking import source

    threshold = 40
    exhaustive = index.search(query, limit=10, collapse_duplicates=collapse)
    with monkeypatch.context() as patch:
        patch.setattr(source, "TOTAL_EXACT_UP_TO", threshold)
        index._require_engine().ranker.cache.clear()  # entries remember what they count
        pruned = index.search(query, limit=10, collapse_duplicates=collapse)
    index._require_engine().ranker.cache.clear()
    assert _same_ranking(_ranked(pruned.hits), _ranked(exhaustive.hits)), query
    if pruned.total_is_exact:
        assert (pruned.total, pruned.facets) == (exhaustive.total, exhaustive.facets)
    else:
        assert threshold <= pruned.total <= exhaustive.total
        assert all(count <= exhaustive.facets[name] for name, count in pruned.facets.items())


def test_total_text_says_when_it_is_a_lower_bound() -> None:
    from quicksearch import SearchResults

    assert SearchResults("q", [], 1234, 1, 10).total_text == "1,234"
    assert SearchResults("q", [], 23_456, 1, 10, total_is_exact=False).total_text == "20,000+"
    assert SearchResults("q", [], 9_000, 1, 10, total_is_exact=False).total_text == "10,000+"
    assert SearchResults("q", [], 5, 1, 10).to_dict()["total_is_exact"] is True


def test_a_long_query_skips_lists(index: Searcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above meets the skipping path (this index and query do, at that threshold)."""
    from quicksearch.ranking import source

    monkeypatch.setattr(source, "TOTAL_EXACT_UP_TO", 40)
    index._require_engine().ranker.cache.clear()
    try:
        results = index.search("gene mutation species habitat climate carbon")
    finally:
        index._require_engine().ranker.cache.clear()
    assert not results.total_is_exact and results.total >= 40
