import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicksearch.query import parse_query


def test_words_phrases_exclusions_subjects() -> None:
    q = parse_query('buffer "weak acids" -strong subject:"computer science" subject:physics')
    assert q.terms == ("buffer",)
    assert q.phrases == (("weak", "acid"),)
    assert q.excluded_terms == ("strong",)
    assert q.subjects == ("Computer Science", "Physics")


def test_hyphenated_word_is_its_parts_and_stop_words_drop() -> None:
    q = parse_query("what is an x-ray")
    assert q.terms == ("x", "ray") and q.phrases == ()
    assert parse_query('what is an "x-ray"').phrases == (("x", "ray"),)


def test_long_input_is_bounded() -> None:
    q = parse_query(" ".join(f"word{i}" for i in range(5000)), max_terms=32)
    assert len(q.terms) == 32


@given(st.text(max_size=2000))
def test_never_raises(text: str) -> None:
    q = parse_query(text)
    assert len(q.terms) <= 32


def test_long_query_reads_quotes_as_words() -> None:
    text = (
        'I want articles on "message passing" in time-sharing systems, '
        "with examples of real systems"
    )
    q = parse_query(text, long_query_words=4)
    assert q.long and q.phrases == ()
    assert {"messag", "pass", "time", "share", "system"} <= set(q.terms)
    assert dict(zip(q.terms, q.counts, strict=True))["system"] == 2
    # A few typed words keep the syntax: the quotes make a phrase.
    q = parse_query('"message passing" time-sharing', long_query_words=4)
    assert not q.long and q.phrases == (("messag", "pass"),)
    assert q.terms == ("time", "share")


@given(st.text(max_size=500), st.integers(min_value=0, max_value=40))
def test_counts_line_up_with_terms(text: str, long_words: int) -> None:
    q = parse_query(text, long_query_words=long_words)
    assert len(q.counts) == len(q.terms) == len(q.words)
    assert all(c >= 1 for c in q.counts)
    if q.long:
        assert q.phrases == ()
    else:
        assert long_words == 0 or len(q.terms) <= long_words


@pytest.mark.parametrize(
    ("text", "trailing"),
    [
        ("applications the", "the"),
        ("applications the ", None),  # finished: a space follows
        ("applications of", None),  # two letters: too short to be a word's start
        ('applications "the"', None),
        ("applications -the", None),
        ("what is the", None),  # stop words only: searched as a phrase instead
    ],
)
def test_a_trailing_stop_word_is_kept_aside(text: str, trailing: str | None) -> None:
    assert parse_query(text).trailing_stop == trailing
