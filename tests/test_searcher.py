import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quicksearch import (
    Document,
    IndexNotFoundError,
    InvalidArgumentError,
    QuickSearchError,
    Settings,
    build_index,
    open_index,
)

from .conftest import HOSTILE_QUERIES, make_docs

EXOCYTOSIS = "/learn/biology/questions/what-triggers-regulated-exocytosis"


def test_ranks_the_intended_page_first_with_marks(built_index: Path) -> None:
    with open_index(built_index) as ix:
        results = ix.search("regulated exocytosis")
    assert results.hits[0].url == EXOCYTOSIS
    hit = results.hits[0]
    assert "<mark>" in hit.snippet and "<mark>exocytosis</mark>" in hit.title_html
    assert hit.subject == "Biology" and hit.date is not None and hit.score > 0


def test_no_index_page_is_not_found_by_its_own_question(built_index: Path) -> None:
    with open_index(built_index) as ix:
        assert ix.search("Zanzibar quokka hidden draft page").total == 0
        assert ix.search("quokka").total == 0


def test_all_words_first_then_any_word(built_index: Path) -> None:
    with open_index(built_index) as ix:
        # Fewer than partial_match_threshold (10) pages have both: partial ones follow, on
        # every page size alike.
        both_first = ix.search("calcium vesicles")
        assert both_first.total == 2 == ix.search("calcium vesicles", limit=1).total
        assert both_first.hits[0].url == EXOCYTOSIS
    with open_index(built_index, settings=Settings(partial_match_threshold=1)) as ix:
        assert ix.search("calcium vesicles").total == 1  # one page has both: that is enough
    with open_index(built_index) as ix:
        pasted = ix.search("how do I make a buffer with a weak acid for my zebra experiment")
    assert "/learn/chemistry/questions/buffer-solutions" in [h.url for h in pasted.hits[:2]]


def test_phrase_and_exclusion(built_index: Path) -> None:
    with open_index(built_index) as ix:
        assert {h.url for h in ix.search('"weak acid"').hits} >= {
            "/learn/chemistry/questions/buffer-solutions",
            "/learn/chemistry/questions/strong-acids",
        }
        urls = {h.url for h in ix.search("acid -buffer").hits}
    assert "/learn/chemistry/questions/buffer-solutions" not in urls
    assert "/learn/chemistry/questions/strong-acids" in urls


def ix_facets(index: Path, query: str) -> dict[str, int]:
    with open_index(index) as ix:
        return ix.search(query).facets


def test_subject_filter_any_spelling_and_facets(built_index: Path) -> None:
    with open_index(built_index) as ix:
        everything = ix.search("membrane acid force")
        biology = ix.search("membrane", subject="biology")
        unknown = ix.search("membrane", subject="Underwater Basket Weaving")
        inline = ix.search("membrane subject:Biology")
    assert set(everything.facets) <= {"Biology", "Chemistry", "Physics"}
    assert sum(everything.facets.values()) == everything.total
    assert biology.total >= 1 and all(h.subject == "Biology" for h in biology.hits)
    # Facets ignore the subject filter (an app shows the other subjects' counts beside it);
    # the filtered total is the subject's count.
    assert biology.facets == ix_facets(built_index, "membrane")
    assert biology.facets["Biology"] == biology.total
    assert unknown.total == 0 and unknown.hits == []
    assert inline.total == biology.total


def test_pagination_is_exact(tmp_path: Path) -> None:
    build_index(make_docs(23), tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        pages = [ix.search("pendulum", limit=10, page=p) for p in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [10, 10, 3, 0]
    assert all(p.total == 23 for p in pages)
    urls = [h.url for p in pages for h in p.hits]
    assert len(set(urls)) == 23
    assert pages[0].pages == 3


@pytest.mark.parametrize(("limit", "page"), [(0, 1), (-1, 1), (10, 0), (10, -3), (10**9, 1)])
def test_bad_paging_arguments_raise_a_clear_error(built_index: Path, limit: int, page: int) -> None:
    with open_index(built_index) as ix, pytest.raises(InvalidArgumentError):
        ix.search("acid", limit=limit, page=page)


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_never_raise(built_index: Path, query: str) -> None:
    with open_index(built_index) as ix:
        results = ix.search(query)
    assert results.total >= 0


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_query_never_raises_property(built_index: Path, query: str) -> None:
    with open_index(built_index) as ix:
        results = ix.search(query, limit=5)
    assert len(results.hits) <= 5
    for hit in results.hits:
        assert "<script" not in hit.snippet


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="no search index"):
        open_index(tmp_path)


def test_closed_searcher_raises(built_index: Path) -> None:
    ix = open_index(built_index)
    ix.close()
    with pytest.raises(QuickSearchError, match="closed"):
        ix.search("acid")


def test_open_searcher_sees_a_rebuild(tmp_path: Path) -> None:
    build_index(make_docs(3), tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        assert ix.search("kettle").total == 0
        build_index(
            [Document(url="/k", question="Kettle?", answer="A kettle boils.")],
            tmp_path / "ix",
            force=True,
        )
        assert ix.search("kettle").total == 1
        assert ix.stats().documents == 1


def test_a_search_during_another_threads_switch_reads_the_new_generation(tmp_path: Path) -> None:
    # A server's follower thread may be opening the new generation when a request comes in;
    # the request must not answer from the old one once the rebuild has finished.
    build_index(make_docs(3), tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        build_index(
            [Document(url="/k", question="Kettle?", answer="A kettle boils.")],
            tmp_path / "ix",
            force=True,
        )
        opening, release = threading.Event(), threading.Event()
        open_live = ix._open_live

        def slow_open(*args: object, **kwargs: object) -> object:
            opening.set()
            release.wait(10)
            return open_live(*args, **kwargs)

        ix._open_live = slow_open  # type: ignore[method-assign]
        follower = threading.Thread(target=ix.refresh)
        follower.start()
        assert opening.wait(10)
        totals: list[int] = []
        request = threading.Thread(target=lambda: totals.append(ix.search("kettle").total))
        request.start()
        request.join(0.3)  # the request waits for the follower, it does not answer now
        release.set()
        follower.join(10)
        request.join(10)
        assert totals == [1]
        assert ix.stats().documents == 1


def test_shared_between_threads(built_index: Path) -> None:
    errors: list[BaseException] = []
    with open_index(built_index) as ix:

        def work() -> None:
            try:
                for _ in range(20):
                    assert ix.search("regulated exocytosis").hits[0].url == EXOCYTOSIS
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_stats(built_index: Path) -> None:
    with open_index(built_index) as ix:
        stats = ix.stats()
    assert stats.documents == 7
    assert stats.subjects == {"Biology": 3, "Chemistry": 2, "Physics": 2}
    assert stats.size_bytes > 0 and stats.schema_version >= 1 and stats.built_at


def test_index_from_another_schema_version_says_rebuild(tmp_path: Path) -> None:
    import json

    from quicksearch import IndexVersionError
    from quicksearch.engines.embedded.storage import current_generation

    build_index(make_docs(2), tmp_path / "ix")
    manifest = current_generation(tmp_path / "ix").path / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": 999}))
    with pytest.raises(IndexVersionError) as err:
        open_index(tmp_path / "ix")
    assert "quicksearch index" in err.value.hint


def test_custom_highlight_tags(built_index: Path) -> None:
    from quicksearch import Settings

    with open_index(built_index, settings=Settings(highlight_tags=("<b>", "</b>"))) as ix:
        hit = ix.search("exocytosis").hits[0]
    assert "<b>exocytosis</b>" in hit.title_html and "<mark>" not in hit.snippet
    assert [hit.title[s:e] for s, e in hit.title_spans] == ["exocytosis"]


QUERY_PARTS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(['"', "-", "OR", "subject:", 'subject:"', "(", ")", ":", "*", "\\", "🙂"]),
    st.sampled_from(["acid", "exocytosis", "buffr", "exo", "weak", "newton", "vesicle"]),
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(QUERY_PARTS, max_size=8).map(" ".join), st.booleans())
def test_every_query_form_is_safe(built_index: Path, query: str, collapse: bool) -> None:
    with open_index(built_index) as ix:
        results = ix.search(query, limit=3, collapse_duplicates=collapse)
    assert results.total >= len(results.hits)
    # Facets count per subject, before any subject filter (a question is counted once in
    # each subject it is asked in).
    assert results.total <= sum(results.facets.values())


def test_known_words_are_searched_without_importing_nltk(built_index: Path) -> None:
    # The index stores its words' stems, so a search process pays NLTK's import (0.3-0.8 s)
    # only for a word the index has never seen.
    import subprocess
    import sys

    code = (
        "import sys, quicksearch\n"
        f"ix = quicksearch.open_index({str(built_index)!r})\n"
        "ix.search('regulated exocytosis'); print('nltk' in sys.modules)\n"
        "ix.search('exocytozzz'); print('nltk' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "True"]


def test_long_queries_are_scored_as_plain_bm25(built_index: Path) -> None:
    # More than long_query_words words: equal field weights, no question bonuses; a few
    # typed words keep the question-first scoring.
    from quicksearch import Settings

    long_query = "what triggers regulated exocytosis of secretory vesicles in cells"
    flat = Settings(
        question_boost=1,
        keywords_boost=1,
        exact_boost=0,
        pairs_boost=0,
        question_cover_bonus=0,
        question_b=0.75,
        long_query_words=0,
    )
    with open_index(built_index) as ix, open_index(built_index, settings=flat) as plain:
        got = [(h.url, round(h.score, 4)) for h in ix.search(long_query).hits]
        assert got == [(h.url, round(h.score, 4)) for h in plain.search(long_query).hits]
        short = [(h.url, h.score) for h in ix.search("regulated exocytosis").hits]
        assert short != [(h.url, h.score) for h in plain.search("regulated exocytosis").hits]


def test_a_word_repeated_in_a_long_query_weighs_more(tmp_path: Path) -> None:
    # As in BM25 with query term frequencies: the word a description keeps coming back to
    # decides between two pages that each match one of its words.
    docs = [
        Document(url="/compilers", question="Notes", answer="Compilers translate source code."),
        Document(url="/garbage", question="Notes", answer="Garbage collectors reclaim memory."),
    ]
    build_index(docs, tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        about_compilers = "garbage compilers compilers compilers alpha beta gamma"
        about_garbage = "compilers garbage garbage garbage alpha beta gamma"
        assert ix.search(about_compilers).hits[0].url == "/compilers"
        assert ix.search(about_garbage).hits[0].url == "/garbage"


def test_query_words_side_by_side_in_a_question_rank_first(tmp_path: Path) -> None:
    # Both questions hold both words, equally long; only one holds them together.
    docs = [
        Document(url="/apart", question="Why is the acid in a cell weak?", answer="Notes."),
        Document(url="/together", question="Why is a weak acid in a cell?", answer="Notes."),
    ]
    build_index(docs, tmp_path / "ix")
    unordered = Settings(question_order_bonus=0)
    with open_index(tmp_path / "ix", settings=unordered) as ix:
        assert [h.url for h in ix.search("weak acid").hits] == ["/together", "/apart"]
        assert [h.url for h in ix.search("acid weak").hits] == ["/together", "/apart"]
        first, second = ix.search("weak acid").hits
        assert first.score > second.score
    # Without the bonus the two pages tie, and index order decides.
    flat = Settings(pairs_boost=0, question_order_bonus=0)
    with open_index(tmp_path / "ix", settings=flat) as ix:
        assert [h.url for h in ix.search("weak acid").hits] == ["/apart", "/together"]


def test_query_words_in_the_typed_order_in_a_question_rank_first(tmp_path: Path) -> None:
    # Both questions hold both words, equally long; people type a page's words in its order.
    docs = [
        Document(url="/cause-first", question="Causes of cirrhosis and its stages?", answer="."),
        Document(url="/cirrhosis-first", question="Cirrhosis stages and their causes?", answer="."),
    ]
    build_index(docs, tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:

        def first(query: str) -> str:
            return ix.search(query).hits[0].url

        assert first("causes cirrhosis") == "/cause-first"
        assert first("cirrhosis causes") == "/cirrhosis-first"
        # A half-typed or misspelt word keeps its place in the order.
        assert first("cirrhosis cau") == "/cirrhosis-first"
        assert first("causes cirrhossis") == "/cause-first"


def test_a_trailing_stop_word_may_be_a_word_being_typed(tmp_path: Path) -> None:
    docs = [
        Document(
            url="/therapy", question="What are the applications of light therapy?", answer="."
        ),
        Document(url="/apps", question="Which applications run on phones?", answer="."),
        Document(url="/history", question="What shaped the history of Rome?", answer="."),
    ]
    build_index(docs, tmp_path / "ix")
    with open_index(tmp_path / "ix") as ix:
        # "the" may be the start of "therapy": a question holds it beside "applications".
        assert ix.search("applications the").hits[0].url == "/therapy"
        # Finished with a space, or nothing fits: the stop word is dropped as before.
        assert {h.url for h in ix.search("applications the ").hits} == {"/therapy", "/apps"}
        assert [h.url for h in ix.search("rome the").hits] == ["/history"]
