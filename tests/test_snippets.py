from hypothesis import given
from hypothesis import strategies as st

from quicksearch.analysis import analyze, terms
from quicksearch.snippets import _match_spans, highlight, make_snippet

ANSWER = (
    "Cells move material in many ways. Diffusion is passive and slow. "
    "Regulated exocytosis is triggered when calcium enters the cell. "
    "The trigger is fast, and triggers fusion within milliseconds. "
    "Other pathways are constitutive."
)


def test_picks_the_sentence_with_the_query_words() -> None:
    snip = make_snippet(ANSWER, set(terms("regulated exocytosis")))
    assert "<mark>Regulated</mark> <mark>exocytosis</mark>" in snip.html
    assert snip.text.startswith("… ")  # cut after the first sentence


def test_marks_every_inflection() -> None:
    snip = make_snippet(ANSWER, set(terms("triggers")))
    marked = [snip.text[s:e] for s, e in snip.spans]
    assert {"triggered", "trigger", "triggers"} <= set(marked)


def test_escapes_everything_but_marks() -> None:
    text = "Never run <script>alert('x')</script> from a page & trust it."
    snip = make_snippet(text, set(terms("script")))
    assert "<script>" not in snip.html
    assert "&lt;<mark>script</mark>&gt;" in snip.html
    assert snip.html.count("<mark>") == 2


def test_no_match_falls_back_to_the_opening_sentences() -> None:
    snip = make_snippet(ANSWER, set(terms("zebra")))
    assert snip.text.startswith("Cells move material")
    assert "<mark>" not in snip.html and snip.spans == ()


def test_long_sentence_is_cut_at_word_boundaries() -> None:
    text = (
        " ".join(f"word{i}" for i in range(200)) + " needle " + " ".join("x" * 5 for _ in range(50))
    )
    snip = make_snippet(text, {"needl"}, max_chars=120)
    assert "<mark>needle</mark>" in snip.html
    body = snip.text.strip("… ")
    assert len(body) <= 120
    assert all(w.startswith("word") or w in {"needle", "xxxxx"} for w in body.split())


def test_spans_match_plain_text() -> None:
    snip = make_snippet(ANSWER, set(terms("calcium cell")))
    assert [snip.text[s:e].lower() for s, e in snip.spans] == ["calcium", "cell"]


def test_highlight_title() -> None:
    assert (
        highlight("A < B for Buffers", set(terms("buffer"))).html
        == "A &lt; B for <mark>Buffers</mark>"
    )


@given(
    st.text(alphabet=st.sampled_from(list("abcéAB1.,'’ -\n")), max_size=80),
    st.text(alphabet=st.sampled_from(list("abcéAB1.,'’ ")), max_size=20),
)
def test_fast_matching_agrees_with_full_analysis(text: str, query: str) -> None:
    wanted = set(terms(query))
    expected = [(t.start, t.end) for t in analyze(text) if t.term in wanted]
    assert [(s, e) for s, e, _ in _match_spans(text, wanted)] == expected


def test_matches_numbers_accents_and_irregular_stems() -> None:
    text = "In 2,000 cafés the skies were happy; a café had 3.14 happiness."
    marked = {text[s:e] for s, e, _ in _match_spans(text, set(terms("2000 cafe sky happy 3")))}
    assert marked == {"2,000", "cafés", "café", "skies", "happy", "happiness"}


def test_tags_are_configurable_and_text_still_escaped() -> None:
    snip = make_snippet(
        "Use <b> for buffers.", set(terms("buffer")), tags=('<em class="hl">', "</em>")
    )
    assert snip.html == 'Use &lt;b&gt; for <em class="hl">buffers</em>.'


def test_phrase_words_are_marked(built_index) -> None:  # type: ignore[no-untyped-def]
    from quicksearch import open_index

    with open_index(built_index) as ix:
        hit = ix.search('"weak acid"').hits[0]
    assert "<mark>weak</mark> <mark>acid" in hit.snippet


def test_sentence_cut_never_splits_words() -> None:
    text = "First sentence here. " + "Second one talks about enzymes at length. " * 12
    snip = make_snippet(text, set(terms("enzymes")), max_chars=150)
    inner = snip.text.removeprefix("… ").removesuffix(" …")
    assert inner in " ".join(text.split())
    assert inner.split()[0] in {"Second", "First"} and inner.endswith(".")
