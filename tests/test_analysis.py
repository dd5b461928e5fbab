from hypothesis import given, settings
from hypothesis import strategies as st

from quicksearch.analysis import analyze, stem, terms


def test_inflections_share_a_term() -> None:
    assert stem("triggers") == stem("triggered") == stem("trigger")
    assert terms("Regulated exocytosis") == terms("regulating exocytosis")


def test_stop_words_and_possessives() -> None:
    assert terms("What is the role of Mendel's law?") == ["role", "mendel", "law"]


def test_offsets_point_into_the_original_text() -> None:
    text = "Calcium TRIGGERS fusion"
    tokens = list(analyze(text))
    assert [text[t.start : t.end] for t in tokens] == ["Calcium", "TRIGGERS", "fusion"]
    assert [t.pos for t in tokens] == [0, 1, 2]


def test_accents_fold_and_numbers_stay_whole() -> None:
    assert terms("café") == terms("cafe")
    assert "3.14" in terms("pi is 3.14")


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_fast_fields_index_exactly_like_the_analyzer(text: str) -> None:
    # The fields index without Whoosh's token machinery; terms, positions, bytes and the words
    # counted for spelling must be what Whoosh's own path through the analyzer gives.
    from whoosh import fields

    from quicksearch.schema import counting_words, make_schema

    schema = make_schema()
    for name in ("question", "answer", "keywords", "question_exact"):
        field = schema[name]
        with counting_words() as fast_counts:
            fast = sorted(field.index(text))
        with counting_words() as slow_counts:
            slow = sorted(fields.TEXT.index(field, text))
        assert fast == slow
        assert fast_counts == slow_counts
