from quicksearch.analysis import terms
from quicksearch.snippets import highlight, make_snippet

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
        highlight("A < B for Buffers", set(terms("buffer"))) == "A &lt; B for <mark>Buffers</mark>"
    )
