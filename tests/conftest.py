"""Shared fixtures: small hand-written pages and indexes built from them."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from quicksearch import Document, build_index

FIXTURES = Path(__file__).parent / "fixtures"

#: Query strings that must never crash anything (library, CLI, server).
HOSTILE_QUERIES = [
    "",
    "   ",
    '"',
    '""',
    "(((",
    "a:b",
    "subject:",
    "-",
    "--x",
    "*",
    "?",
    "acid*",
    "[1 TO 2]",
    "AND OR NOT",
    "x" * 10_000,
    "emoji 🙂🔥 acid",
    "\x00\x01",
    "'; DROP TABLE",
    "\\",
    "café",
]


def write_page(
    folder: Path,
    name: str,
    *,
    url: str,
    question: str,
    answer: str,
    subject: str = "Biology",
    keywords: str = "",
    page_id: int = 1,
    extra: str = "",
) -> Path:
    """Write one page in the corpus's front-matter format (answer as a folded scalar)."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent(
            f"""\
            ---
            id: {page_id}
            date: 2025-01-15
            seo:
              page_keywords: >-
                {keywords}
            question: >-
                {question}
            answer: >-
                {answer}
            subject: {subject}
            url: {url}
            """
        )
        + extra
        + "---\n\n&nbsp;\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def pages_dir(tmp_path: Path) -> Path:
    """A copy of tests/fixtures/pages that a test may modify."""
    dest = tmp_path / "pages"
    shutil.copytree(FIXTURES / "pages", dest)
    return dest


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of tests/fixtures/pages, built once per session (read-only for tests)."""
    index_dir = tmp_path_factory.mktemp("index")
    build_index(FIXTURES / "pages", index_dir, jobs=1)
    return index_dir


def make_docs(n: int, subject: str = "Physics") -> list[Document]:
    """``n`` synthetic documents that all mention 'pendulum'."""
    return [
        Document(
            url=f"/d/{i}",
            question=f"Pendulum question number {i}",
            answer=f"A pendulum swings with period {i}. Gravity pulls it back.",
            subject=subject,
        )
        for i in range(n)
    ]
