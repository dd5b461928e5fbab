"""Invariants of a query's result list, on both engines, over a generated index where partial
matches, repeated questions and questions asked in several subjects all occur:

- the list (order, total, exactness, facets) is a function of the query, the subject and the
  settings only: ``limit`` and ``page`` just cut a window out of it;
- the counts add up: the total counts each matched question once, each subject's facet counts
  the questions it holds once, and choosing that subject gives exactly its facet.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quicksearch import Document, Searcher, build_index, open_index

from .conftest import ENGINES, new_location

WORDS = (
    "acid base buffer enzyme protein membrane vesicle calcium energy force motion orbit "
    "planet cell gene mutation market price demand supply poem novel theme verb tense"
).split()
SUBJECTS = ["Biology", "Chemistry", "Physics", "Economics", "English"]


def generated_pages(seed: int = 11, count: int = 140) -> list[Document]:
    """Questions of 3-6 topic words, one in six asked again (often in another subject)."""
    rng = random.Random(seed)
    docs: list[Document] = []
    for i in range(count):
        if docs and rng.random() < 1 / 6:
            question = rng.choice(docs).question
        else:
            words = rng.sample(WORDS, rng.randint(3, 6))
            question = "What is the " + " ".join(words) + "?"
        answer = " ".join(rng.choices(WORDS, k=rng.randint(15, 40))) + "."
        docs.append(
            Document(
                url=f"/learn/g/{i}",
                question=question,
                answer=answer,
                keywords=tuple(rng.sample(WORDS, 2)),
                subject=rng.choice(SUBJECTS),
            )
        )
    return docs


@pytest.fixture(scope="module", params=ENGINES)
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    where = new_location(request.param, request, tmp_path_factory.mktemp("windows"))
    build_index(generated_pages(), where, jobs=1)
    return where


@pytest.fixture(scope="module")
def searcher(generated: str) -> Searcher:
    with open_index(generated) as ix:
        yield ix


queries = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS).map(lambda w: w[:4])),
    min_size=1,
    max_size=6,
).map(" ".join)


def _window(ix: Searcher, q: str, limit: int, page: int, subject: str | None, collapse: bool):  # type: ignore[no-untyped-def]
    r = ix.search(q, limit=limit, page=page, subject=subject, collapse_duplicates=collapse)
    return [h.url for h in r.hits], r.total, r.total_is_exact, r.facets


@settings(max_examples=40, deadline=None)
@given(
    q=queries,
    limit=st.integers(1, 12),
    subject=st.sampled_from([None, *SUBJECTS]),
    collapse=st.booleans(),
)
def test_pages_are_windows_of_one_list(
    searcher: Searcher, q: str, limit: int, subject: str | None, collapse: bool
) -> None:
    urls, total, exact, facets = _window(searcher, q, limit * 3, 1, subject, collapse)
    paged: list[str] = []
    for page in (1, 2, 3):
        page_urls, page_total, page_exact, page_facets = _window(
            searcher, q, limit, page, subject, collapse
        )
        assert (page_total, page_exact, page_facets) == (total, exact, facets), (q, page)
        paged += page_urls
    assert paged == urls, q
    one = _window(searcher, q, 1, 1, subject, collapse)
    assert one[1:] == (total, exact, facets) and one[0] == urls[:1]


@settings(max_examples=30, deadline=None)
@given(q=queries, collapse=st.booleans())
def test_counts_add_up(searcher: Searcher, q: str, collapse: bool) -> None:
    results = searcher.search(q, limit=10, collapse_duplicates=collapse)
    if not results.total_is_exact:
        return
    every = searcher.search(q, limit=1000, collapse_duplicates=False)
    assert every.total == len(every.hits)
    questions: dict[str, set[str]] = defaultdict(set)
    pages: dict[str, int] = defaultdict(int)
    for hit in every.hits:
        questions[hit.title].add(hit.subject)
        pages[hit.subject] += 1
    if collapse:
        # Each matched question once; in each subject that holds it, once there.
        assert results.total == len(questions)
        held: dict[str, int] = defaultdict(int)
        for subjects in questions.values():
            for subject in subjects:
                held[subject] += 1
        assert results.facets == dict(held)
    else:
        assert results.total == every.total and results.facets == dict(pages)
    for subject, count in results.facets.items():
        chosen = searcher.search(q, limit=10, subject=subject, collapse_duplicates=collapse)
        assert chosen.total == count, (q, subject)
