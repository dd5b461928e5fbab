from hypothesis import given
from hypothesis import strategies as st

from quicksearch.query import parse_query


def test_words_phrases_exclusions_subjects() -> None:
    q = parse_query('buffer "weak acids" -strong subject:"computer science" subject:physics')
    assert q.terms == ("buffer",)
    assert q.phrases == (("weak", "acid"),)
    assert q.excluded_terms == ("strong",)
    assert q.subjects == ("Computer Science", "Physics")


def test_hyphenated_word_is_a_phrase_and_stop_words_drop() -> None:
    q = parse_query("what is an x-ray")
    assert q.terms == () and q.phrases == (("x", "ray"),)


def test_long_input_is_bounded() -> None:
    q = parse_query(" ".join(f"word{i}" for i in range(5000)), max_terms=32)
    assert len(q.terms) == 32


@given(st.text(max_size=2000))
def test_never_raises(text: str) -> None:
    q = parse_query(text)
    assert len(q.terms) <= 32
