import contextlib
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicksearch import Document, InvalidSourceError
from quicksearch.documents import PageError, find_pages, load_page, parse_page
from quicksearch.sources import SKIPPED, scan_file

from .conftest import FIXTURES


def test_parses_a_real_format_page() -> None:
    doc = load_page(FIXTURES / "pages/biology/regulated-exocytosis.md")
    assert doc.url == "/learn/biology/questions/what-triggers-regulated-exocytosis"
    assert doc.question == "What triggers the process of regulated exocytosis?"
    assert "Ca2+" in doc.answer and "\\n" not in doc.answer and "**" not in doc.answer
    assert doc.keywords == ("regulated exocytosis", "calcium signalling", "secretory vesicles")
    assert doc.subject == "Biology"
    assert doc.date == dt.date(2024, 12, 1)
    assert doc.id == "501"
    assert not doc.no_index


def test_subject_is_normalised_and_no_index_is_read() -> None:
    assert load_page(FIXTURES / "pages/physics/code-sample.md").subject == "Physics"
    assert load_page(FIXTURES / "pages/biology/hidden-draft.md").no_index


@pytest.mark.parametrize("spelling", ["True", "true", "yes", "on", "'true'", "1"])
def test_no_index_accepts_any_truthy_spelling(spelling: str) -> None:
    page = f"---\nurl: /x\nquestion: q?\nanswer: a.\nno_index: {spelling}\n---\n"
    assert parse_page(page).no_index


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"just some text\n", "no YAML front matter"),
        (b"---\nurl: [unclosed\n---\n", "invalid YAML"),
        (b"---\n- a\n- b\n---\n", "not a mapping"),
        (b"---\nurl: /x\nanswer: hi\n---\n", "missing question"),
        (b"---\nurl: /x\nquestion: hi?\n---\n&nbsp;\n", "missing answer"),
        (b"---\nquestion: q\nanswer: a\n---\n", "missing url"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
        (b"---\nquestion: caf\xe9\n---\n", "UTF-8"),
    ],
)
def test_bad_pages_give_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    with pytest.raises(PageError, match=reason):
        load_page(path)
    record, doc = scan_file(path, "bad.md", 1_000_000)
    assert doc is None and record.status == SKIPPED and reason in record.reason


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_text("---\nurl: /x\nquestion: q\nanswer: " + "a" * 5000 + "\n---\n")
    with pytest.raises(PageError, match="too large"):
        load_page(path, max_bytes=1000)


def test_find_pages_walks_recursively_and_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "p.md").write_text("x")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / "b" / "loop").symlink_to(tmp_path / "a")
    assert [p.name for p in find_pages(tmp_path)] == ["p.md"]


def test_find_pages_rejects_missing_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidSourceError):
        find_pages(tmp_path / "nope")


def test_document_constructor_normalises() -> None:
    doc = Document(
        url="d1", question="title", answer="body", keywords="a, b ,, c", subject="computer science"
    )
    assert doc.keywords == ("a", "b", "c")
    assert doc.subject == "Computer Science"


@given(st.text(max_size=300))
def test_parse_page_raises_only_page_error(body: str) -> None:
    with contextlib.suppress(PageError):
        parse_page("---\n" + body + "\n---\n")
