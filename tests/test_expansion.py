"""Typo tolerance, search-as-you-type and "did you mean", on hand-written documents."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quicksearch import Document, Settings, build_index, open_index
from quicksearch.expansion import Vocabulary, expand_word, in_context

DOCS = [
    Document(
        url="/exo",
        question="What triggers regulated exocytosis?",
        answer="Regulated exocytosis is triggered by calcium entering the cell.",
    ),
    Document(
        url="/photo",
        question="How does photosynthesis work?",
        answer="Photosynthesis turns light into chemical energy in chloroplasts.",
    ),
    Document(
        url="/photo2",
        question="Why is photosynthesis important for ecosystems?",
        answer="Photosynthesis feeds almost every food chain with energy.",
    ),
    Document(
        url="/phys",
        question="What are physical phenomena?",
        answer="Physical phenomena include motion, heat and light.",
    ),
    Document(
        url="/cases",
        question="What role does intent play in criminal cases?",
        answer="Intent separates murder from manslaughter in many cases.",
    ),
    Document(
        url="/exotic",
        question="What are exotic species?",
        answer="Exotic species are organisms introduced outside their native range.",
    ),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exp") / "ix"
    build_index(DOCS, path)
    return path


def urls(index: Path, query: str) -> list[str]:
    with open_index(index) as ix:
        return [h.url for h in ix.search(query).hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("photosyntesis", "/photo"),  # dropped letter
        ("photosynthseis energy", "/photo"),  # swapped letters
        ("regulated exocytossis", "/exo"),  # doubled letter
        ("physcial phenomena", "/phys"),  # transposition that changes the stem
        ("intent cses", "/cases"),  # four-letter typo
    ],
)
def test_typos_find_the_page(index: Path, query: str, expected: str) -> None:
    assert expected in urls(index, query)[:2]


def test_exact_words_rank_above_corrections(tmp_path: Path) -> None:
    docs = [
        Document(url="/exact", question="Tiny kumquat facts", answer="About the kumquat."),
        Document(url="/near", question="Tiny kumquats facts", answer="About kumquats."),
    ]
    build_index(docs, tmp_path / "ix")
    assert urls(tmp_path / "ix", "tiny kumquat")[0] == "/exact"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("regulated exocy", "/exo"),
        ("photos", "/photo"),
        ("criminal cas", "/cases"),
        ("regulat exocytosis", "/exo"),
    ],
)
def test_last_word_matches_as_a_prefix(index: Path, query: str, expected: str) -> None:
    assert expected in urls(index, query)[:2]


def test_prefix_only_applies_to_the_last_word_being_typed(index: Path) -> None:
    assert urls(index, "exo ") == []  # finished word: no completion
    assert set(urls(index, "exo")) == {"/exo", "/exotic"}


def test_completions_are_marked_in_snippets(index: Path) -> None:
    with open_index(index) as ix:
        hit = ix.search("regulated exocy").hits[0]
    assert "<mark>exocytosis</mark>" in hit.title_html
    assert "<mark>exocytosis</mark>" in hit.snippet


def test_corrections_are_marked_and_suggested(index: Path) -> None:
    with open_index(index) as ix:
        results = ix.search("photosyntesis light")
    assert results.suggestion == "photosynthesis light"
    assert "<mark>Photosynthesis</mark>" in results.hits[0].snippet


def test_no_suggestion_when_every_word_is_known(index: Path) -> None:
    with open_index(index) as ix:
        assert ix.search("photosynthesis light").suggestion is None


def test_vocabulary_neighbours_and_completions() -> None:
    vocab = Vocabulary(
        {"photosynthesi": 50, "physic": 30}, {"photosynthesis": 60, "physical": 40, "physics": 20}
    )
    assert ("physical", 1) in vocab.neighbours("physcial", 1)
    assert vocab.completions("phys") == ["physical", "physics"]
    expansion = expand_word("photosyntesi", "photosyntesis", vocab)
    assert dict(expansion.variants) == {"photosyntesi": 1.0, "photosynthesi": 0.8}
    assert expansion.correction == "photosynthesis"
    # short words are left alone
    assert expand_word("cat", "cat", vocab).variants == (("cat", 1.0),)


def test_or_joins_alternatives(index: Path) -> None:
    assert set(urls(index, "photosynthesis OR exocytosis")) == {"/exo", "/photo", "/photo2"}
    assert urls(index, "photosynthesis OR exocytosis calcium")[0] == "/exo"  # both clauses
    with open_index(index) as ix:
        page = ix.search("photosynthesis OR exocytosis calcium", limit=1)
    assert page.total == 3  # fewer than the threshold have both clauses: partial ones follow
    with open_index(index, settings=Settings(partial_match_threshold=1)) as ix:
        page = ix.search("photosynthesis OR exocytosis calcium", limit=1)
    assert page.total == 1  # one page has both clauses: no partial matches added


def test_synonyms_file(index: Path, tmp_path: Path) -> None:
    from quicksearch import Settings, load_synonyms

    path = tmp_path / "synonyms.txt"
    path.write_text("# biology\nsunlight, light\nautomobile, car, heart attack\n")
    groups = load_synonyms(path)
    assert groups == (("sunlight", "light"), ("automobile", "car", "heart attack"))
    with open_index(index, settings=Settings(synonyms=groups)) as ix:
        found = {h.url for h in ix.search("sunlight").hits}
    assert {"/photo", "/phys"} <= found
    assert urls(index, "sunlight") == []  # without the file


def test_per_query_boosts(tmp_path: Path) -> None:
    from quicksearch import InvalidArgumentError

    docs = [
        Document(url="/q", question="Walrus habitats", answer="Cold seas."),
        Document(
            url="/a", question="Arctic animals", answer="The walrus walrus walrus lives here."
        ),
    ]
    build_index(docs, tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        assert ix.search("walrus").hits[0].url == "/q"
        answer_first = ix.search("walrus", boosts={"question": 0.1, "answer": 10})
        assert answer_first.hits[0].url == "/a"
        with pytest.raises(InvalidArgumentError, match="unknown field"):
            ix.search("walrus", boosts={"title": 2})


def test_duplicate_questions_collapse_to_the_best(tmp_path: Path) -> None:
    docs = [
        Document(
            url="/dup1",
            question="What is a gerund?",
            answer="A gerund is a verb form.",
            subject="English",
        ),
        Document(
            url="/dup2",
            question="What is a GERUND",
            answer="Gerund, gerund: verb as noun.",
            subject="English",
        ),
        Document(
            url="/other",
            question="Gerund or participle?",
            answer="How to tell apart.",
            subject="English",
        ),
    ]
    build_index(docs, tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        collapsed = ix.search("gerund")
        everything = ix.search("gerund", collapse_duplicates=False)
    assert collapsed.total == 2 and everything.total == 3
    assert len({h.url for h in collapsed.hits} & {"/dup1", "/dup2"}) == 1
    assert sum(collapsed.facets.values()) == collapsed.total


def test_question_holding_every_word_ranks_first(tmp_path: Path) -> None:
    docs = [
        Document(
            url="/scattered",
            question="Notes on marine life",
            answer="Coral reefs host fish. Reef bleaching harms coral. Coral coral reef.",
        ),
        Document(
            url="/asked",
            question="Why do coral reefs bleach?",
            answer="Warm water makes corals expel their algae.",
        ),
    ]
    build_index(docs, tmp_path / "ix")
    assert urls(tmp_path / "ix", "coral reef")[0] == "/asked"


def test_a_garbled_last_word_is_not_cut_back_to_a_short_word() -> None:
    # "plorf" is no typo of anything here; "plo" (an acronym in the pages) starts it but is
    # two letters short: the word must match nothing rather than that.
    vocab = Vocabulary({"plo": 3, "plot": 40}, {"plo": 3, "plot": 40})
    expansion = expand_word("plorf", "plorf", vocab, is_prefix=True)
    assert dict(expansion.variants) == {"plorf": 1.0}
    assert expansion.correction is None


def test_forms_that_fit_the_other_words_win(tmp_path: Path) -> None:
    docs = [
        Document(url="/terms", question="What do machine learning terms mean?", answer="."),
        Document(url="/teams", question="How do sports teams train?", answer="."),
        Document(url="/cells", question="How do cells divide?", answer="."),
        Document(url="/cellos", question="How are cellos tuned?", answer="."),
        Document(url="/celts", question="Who were the Celts?", answer="."),
    ]
    build_index(docs, tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        # A real word that fits no question beside the others: its neighbour that does.
        found = ix.search("machine teams")
        assert found.hits[0].url == "/terms" and found.suggestion == "machine terms"
        # Of the corrections of "cellz", the one a question holds beside "divide".
        found = ix.search("cellz divide")
        assert found.hits[0].url == "/cells" and found.suggestion == "cells divide"
        assert ix.search("tuned cellz").hits[0].url == "/cellos"
        # Nothing fits: no guess is forced on the visitor.
        assert ix.search("zzxqv quokkaberry").hits == []


@given(
    words=st.lists(
        st.text(alphabet="abcdeilmnorst", min_size=1, max_size=12), min_size=1, max_size=5
    ),
    counts=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=50),
)
@settings(max_examples=80, deadline=None)
def test_in_context_keeps_every_word_and_sane_weights(words: list[str], counts: list[int]) -> None:
    vocab = Vocabulary(
        {"cell": 9, "cells": 3, "cello": 2, "role": 7, "roles": 2, "mito": 1, "motion": 4},
        {"cell": 9, "cells": 3, "cello": 2, "role": 7, "roles": 2, "mito": 1, "motion": 4},
    )
    expansions = [
        expand_word(w, w, vocab, is_prefix=i == len(words) - 1) for i, w in enumerate(words)
    ]

    def question_counts(groups, probes):  # type: ignore[no-untyped-def]
        return [counts[k % len(counts)] for k in range(len(probes))]

    out = in_context(expansions, words, question_counts, vocab, words[-1])
    assert len(out) == len(expansions)
    for before, after in zip(expansions, out, strict=True):
        assert after.variants and all(0 < w <= 1.0 for _, w in after.variants)
        assert {t for t, _ in before.variants} <= {t for t, _ in after.variants}
        assert after.word is None or after.word == "" or after.correction == after.word
