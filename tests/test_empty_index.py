"""An index with no documents opens, answers every call and command, and is replaced like any
other (issue: a first build that found nothing used to leave an index that crashed on open)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quicksearch import Document, build_index, open_index, update_index

from .conftest import HOSTILE_QUERIES, make_docs, write_page
from .test_cli import run


@pytest.fixture(scope="module")
def empty_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("empty") / "ix"
    report = build_index([], index_dir)
    assert report.documents == 0
    return index_dir


@pytest.mark.parametrize(
    "source",
    [
        [],
        [Document(url="/a", question="What is DNA?", answer="")],
        [Document(url="/a", question="", answer="DNA is a molecule.")],
        [Document(url="/a", question="What is DNA?", answer="DNA.", no_index=True)],
    ],
    ids=["nothing", "no-answer", "no-question", "no-index"],
)
def test_every_empty_build_opens_and_answers(tmp_path: Path, source: list[Document]) -> None:
    report = build_index(source, tmp_path / "ix")
    assert report.documents == 0
    assert report.warnings and "no documents" in report.warnings[0]
    with open_index(tmp_path / "ix") as index:
        results = index.search("dna")
        assert (results.total, results.hits, results.suggestion, results.facets) == (
            0,
            [],
            None,
            {},
        )
        assert index.search("dna", subject="biology").total == 0
        assert index.search("subject:biology").total == 0
        assert index.complete("dn").words == ()
        stats = index.stats()
        assert stats.documents == 0 and stats.subjects == {}
        index.warm()


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_on_an_empty_index(empty_index: Path, query: str) -> None:
    with open_index(empty_index) as index:
        assert index.search(query).total == 0
        index.complete(query)


def test_a_page_without_a_question_is_skipped_and_the_report_says_why(tmp_path: Path) -> None:
    # Decided: a hit shows its question as the title, so a page without one is skipped (an
    # answer-only page would be a result with no title), with the missing field named.
    report = build_index(
        [
            Document(url="/a", question="", answer="DNA is a molecule."),
            Document(url="/b", question="What is RNA?", answer="  "),
            Document(url="", question="What?", answer="Yes."),
        ],
        tmp_path / "ix",
    )
    assert sorted(s.reason for s in report.skipped) == [
        "missing answer",
        "missing question",
        "missing url",
    ]


def test_an_empty_index_is_replaced_by_the_next_build_and_update(tmp_path: Path) -> None:
    index_dir, src = tmp_path / "ix", tmp_path / "src"
    src.mkdir()
    assert update_index(src, index_dir).documents == 0  # first run on an empty folder
    with open_index(index_dir) as index:
        assert index.search("pendulum").total == 0
        write_page(src, "a.md", url="/a", question="Pendulum period?", answer="Pendulum.")
        report = update_index(src, index_dir)
        assert (report.added, report.documents, report.warnings) == (1, 1, ())
        assert [h.url for h in index.search("pendulum").hits] == ["/a"]  # follows the switch
    assert build_index(make_docs(3), index_dir).documents == 3


# -- the command line -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's transcript: one page without an answer, indexed from the command line."""
    root = tmp_path_factory.mktemp("cli-empty")
    (root / "src").mkdir()
    (root / "src" / "a.md").write_text("---\nurl: /x\nquestion: What?\n---\n", encoding="utf-8")
    result = run("index", str(root / "src"), "--index", str(root / "idx"))
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stderr and "missing answer" in result.stderr
    assert "warning: the index has no documents" in result.stderr
    return root


def test_cli_search_and_stats_on_an_empty_index(cli_empty: Path) -> None:
    index = str(cli_empty / "idx")
    result = run("search", "dna", "--index", index)
    assert (result.returncode, result.stderr) == (0, "")
    assert "No results" in result.stdout
    data = json.loads(run("search", "dna", "--index", index, "--json").stdout)
    assert (data["total"], data["hits"], data["suggestion"]) == (0, [], None)
    result = run("stats", "--index", index, "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["documents"] == 0
    assert "documents       0" in run("stats", "--index", index).stdout


@pytest.mark.parametrize("query", [q for q in HOSTILE_QUERIES if "\x00" not in q])
def test_cli_hostile_queries_on_an_empty_index(cli_empty: Path, query: str) -> None:
    result = run("search", "--index", str(cli_empty / "idx"), "--", query)
    assert result.returncode == 0, result.stderr


def test_cli_strict_and_report_on_an_empty_result(cli_empty: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = run(
        "index",
        str(cli_empty / "src"),
        "--index",
        str(tmp_path / "idx"),
        "--strict",
        "--report",
        str(report_file),
        "--json",
    )
    assert result.returncode == 10  # empty under --strict, distinct from 8 (pages skipped)
    assert "warning: the index has no documents" in result.stderr
    report = json.loads(report_file.read_text())
    assert report["ok"] is True and report["documents"] == 0
    assert report["warnings"] and report["skipped"][0]["reason"] == "missing answer"
    assert json.loads(result.stdout) == report


def test_cli_rollback_on_a_first_empty_index_has_its_own_code(cli_empty: Path) -> None:
    result = run("rollback", "--index", str(cli_empty / "idx"))
    assert result.returncode == 9 and "Traceback" not in result.stderr


def test_server_on_an_empty_index(cli_empty: Path) -> None:
    pytest.importorskip("starlette")
    pytest.importorskip("httpx2")
    from starlette.testclient import TestClient

    from quicksearch.server import ServerConfig, create_app

    app = create_app(ServerConfig(index_dir=str(cli_empty / "idx")))
    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["documents"] == 0
        search = client.get("/search", params={"q": "dna"})
        assert search.status_code == 200 and search.json()["hits"] == []
        assert client.get("/suggest", params={"q": "dn"}).status_code == 200
        assert client.get("/").status_code == 200
