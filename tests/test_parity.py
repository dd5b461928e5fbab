"""The two engines agree on pages that look like the real ones, many enough for what the 17
fixture pages cannot show: partial matches (fewer pages than the threshold with every word),
long questions, completions of a half-typed word with dozens of forms, corrected typos, ties,
repeated questions, deep windows and subject filters.

The pages are generated here (seeded): questions, answers and keywords drawn from a Zipf-like
vocabulary of English words, so common words are in thousands of postings and rare ones in a
few, as on the real corpus. One test body runs the same queries on a folder index and on a
3-node cluster and compares every hit (url, score, snippet), the total, the facets and the
suggestion.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from quicksearch import Document, build_index, open_index

from .conftest import new_location, wait_until

_WORDS = """
energy cell cells membrane protein proteins acid acids reaction reactions force forces
motion velocity acceleration mass gravity planet planets orbit light wave waves sound
frequency electron electrons atom atoms molecule molecules bond bonds chemical chemistry
biology physics history economic economics market markets price prices demand supply
government policy policies law laws court courts rights freedom war wars empire empires
trade colonial revolution culture cultural society social identity language languages
writing persuasive essay argument evidence analysis theory theories model models data
statistics probability function functions equation equations graph graphs derivative
integral limit limits matrix vector vectors geometry triangle circle angle angles area
volume climate weather ocean oceans river rivers soil plant plants photosynthesis
respiration enzyme enzymes gene genes dna inheritance evolution species population
ecosystem ecology immune infection virus bacteria disease health nutrition diet heart
blood brain nerve neurons memory learning behavior psychology development child children
education teacher student students school research method methods experiment design
computer program programming algorithm algorithms network networks security software
account accounting finance financial tax taxes budget investment interest rate inflation
money bank banking business management marketing customer product products strategy
ethics moral philosophy religion religious art music literature poem poetry novel
character characters theme themes author story narrative metaphor symbol symbols
""".split()

_GLUE = "what how why does do the of in and a to is are can explain describe role".split()


def _pages(n: int, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(_WORDS))]
    rng.shuffle(weights)
    subjects = ["Biology", "Physics", "History", "Economics", "Literature", "Mathematics"]

    def words(k: int) -> list[str]:
        return rng.choices(_WORDS, weights=weights, k=k)

    pages = []
    for i in range(n):
        if i % 50 == 7 and pages:  # some questions asked twice, by pages of another url
            question = pages[-3].question
        else:
            opening = rng.choice(["What is", "How does", "Why do", "Explain", "Describe the"])
            question = f"{opening} {' '.join(words(rng.randint(3, 10)))}?"
        sentences = [
            " ".join([*words(rng.randint(5, 14)), *rng.choices(_GLUE, k=3)]).capitalize() + "."
            for _ in range(rng.randint(2, 8))
        ]
        pages.append(
            Document(
                url=f"/learn/q{i:05d}",
                question=question,
                answer=" ".join(sentences),
                keywords=tuple(words(rng.randint(2, 5))),
                subject=subjects[i % len(subjects)],
            )
        )
    return pages


def _queries(pages: list[Document], seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = ["energy", "cell membrane", "acid", "persuasive writing", "photosynthesis respiration"]
    for page in rng.sample(pages, 40):
        terms = [w.strip("?").lower() for w in page.question.split()[1:]]
        terms = [t for t in terms if t not in _GLUE] or ["energy"]
        short = " ".join(rng.sample(terms, min(2, len(terms))))
        word = rng.choice(terms)
        typo = word[:1] + word[2:] if len(word) > 4 else word + "s"
        out += [
            short,  # two words of a question
            short.replace(word, typo) if word in short else f"{typo} {terms[0]}",  # a typo
            f"{terms[0]} {word[:3]}",  # the last word half typed (a prefix of many forms)
            page.question,  # the whole question (a long query)
            f"{' '.join(terms[:2])} {rng.choice(_WORDS)} {rng.choice(_WORDS)}",  # partial
        ]
    return out


def _answers(results):  # type: ignore[no-untyped-def]
    return (
        [(h.url, round(h.score, 4), h.title_html, h.snippet) for h in results.hits],
        results.total,
        results.total_is_exact,
        results.facets,
        results.suggestion,
    )


@pytest.fixture(scope="module")
def both(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str, list[str]]:
    pages = _pages(900)
    tmp = tmp_path_factory.mktemp("parity")
    folder = new_location("embedded", request, tmp)
    cluster = new_location("cluster", request, tmp)
    for where in (folder, cluster):
        build_index(pages, where, jobs=1)
    return folder, cluster, _queries(pages)


def test_both_engines_rank_generated_pages_alike(both: tuple[str, str, list[str]]) -> None:
    folder, cluster, queries = both
    with open_index(folder) as embedded, open_index(cluster) as clustered:
        for query in queries:
            for options in ({}, {"page": 2}, {"subject": "Physics"}, {"limit": 50}):
                expected = _answers(embedded.search(query, **options))
                assert _answers(clustered.search(query, **options)) == expected, (query, options)


def test_generated_queries_reach_partial_matches_and_long_questions(
    both: tuple[str, str, list[str]],
) -> None:
    """The queries exercise what the test is for (else it would pass vacuously)."""
    folder, _, queries = both
    with open_index(folder) as ix:
        totals = {q: ix.search(q).total for q in queries}
    every_word = {q for q in queries if totals[q] and len(q.split()) >= 4}
    assert len(every_word) >= 40  # long questions and partial matches with results
    assert sum(1 for q in queries if totals[q] > 100) >= 20  # common words, long lists


def test_parity_survives_an_update(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """An in-place update of the cluster writes new tables, searchers move to them, and they
    answer as a fresh build of the new pages does. (A folder index updated in place estimates
    its average field lengths from the deleted pages' stored, rounded lengths until its next
    full build, so its scores can differ from a fresh build's in the fourth digit.)"""
    from quicksearch import update_index

    pages = _pages(300, seed=3)
    changed = [
        *pages[:250],
        Document(url="/learn/new", question="What is quokka energy?", answer="Quokka energy."),
    ]
    fresh = new_location("embedded", request, tmp_path)
    build_index(changed, fresh, jobs=1)
    cluster = new_location("cluster", request, tmp_path)
    build_index(pages, cluster, jobs=1)
    with open_index(fresh) as embedded, open_index(cluster) as clustered:
        assert clustered.search("quokka").total == 0
        update_index(changed, cluster, force=True)
        # A searcher checks for a new generation or tables at most once a second.
        wait_until(lambda: clustered.search("quokka").total == 1, timeout=10)
        for query in ["quokka", "energy", "cell membrane acid", "persuasive wri", "acid"]:
            assert _answers(clustered.search(query)) == _answers(embedded.search(query)), query
