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
