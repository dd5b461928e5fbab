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

    from quicksearch.engines.embedded.schema import counting_words, make_schema

    schema = make_schema()
    for name in ("question", "answer", "keywords", "question_exact"):
        field = schema[name]
        with counting_words() as fast_counts:
            fast = sorted(field.index(text))
        with counting_words() as slow_counts:
            slow = sorted(fields.TEXT.index(field, text))
        assert fast == slow
        assert fast_counts == slow_counts


def test_build_workers_load_the_stemmer_without_scipy() -> None:
    # In a fresh process, as in a build worker: NLTK loads without SciPy, stems as always,
    # and SciPy stays importable afterwards.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from quicksearch.analysis import lean_nltk_import, load_stemmer, stem\n"
        "lean_nltk_import(); load_stemmer()\n"
        "print(stem('running'), 'scipy' in sys.modules)\n"
        "try:\n    import scipy\nexcept ImportError:\n    pass\n"
        "print(sys.modules.get('scipy', 'absent') is not None)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["run", "False", "True"]


def test_length_quantization_is_whooshs() -> None:
    """The cluster scores with quicksearch.lengths; it must quantize as the Whoosh index does."""
    from whoosh.util.numeric import byte_to_length, length_to_byte

    from quicksearch.lengths import LENGTH_OF_BYTE
    from quicksearch.lengths import length_to_byte as ours

    assert [float(LENGTH_OF_BYTE[b]) for b in range(256)] == [byte_to_length(b) for b in range(256)]
    assert all(ours(n) == length_to_byte(n) for n in range(0, 120_000, 3))
