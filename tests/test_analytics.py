"""The query log and its report: normalising, concurrent writers, rotation, the report's tables,
and ``quicksearch report`` through the real entry point."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quicksearch import QueryLog, QueryLogError, build_index, build_report
from quicksearch.analytics import MAX_LOGGED_QUERY, normalise_query, parse_moment, report_files

from .conftest import FIXTURES, wait_until
from .typesense_cluster import free_port


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("  Photo  SYNTHESIS ", "photo synthesis"),
        ("ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("mail me at jo.doe@example.org please", "mail me at <email> please"),
        ("call 0171 555 1234 now", "call <number> now"),
        ("year 1998 and 2024", "year 1998 and 2024"),  # short numbers are kept
        ("x" * 1000, "x" * MAX_LOGGED_QUERY),
        ("line\nbreak\ttab", "line break tab"),
    ],
)
def test_queries_are_normalised_and_personal_details_masked(raw: str, logged: str) -> None:
    assert normalise_query(raw) == logged


@given(st.text(max_size=2000))
def test_any_query_normalises_to_one_short_line(raw: str) -> None:
    logged = normalise_query(raw)
    assert "\n" not in logged and "\r" not in logged
    assert len(logged) <= MAX_LOGGED_QUERY
    assert normalise_query(logged) == logged


def _write_events(path: str, worker: int, count: int) -> None:
    with QueryLog(path, flush_seconds=0.01) as log:
        for i in range(count):
            # Long lines make a torn or interleaved write likely if writes were not whole.
            log.record("search", q=f"w{worker} q{i} " + "y" * 250, total=i, worker=worker, n=i)


def test_processes_writing_at_once_never_interleave(tmp_path: Path) -> None:
    path = str(tmp_path / "queries.jsonl")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_events, args=(path, w, 3000)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    lines = Path(path).read_text("utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line is whole
    assert len(events) == 9000
    for w in range(3):
        assert sorted(e["n"] for e in events if e["worker"] == w) == list(range(3000))


def test_the_writer_follows_logrotate(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    log = QueryLog(path, flush_seconds=0.01)
    try:
        log.record("search", q="before", total=1)
        wait_until(lambda: path.exists() and path.read_text())
        path.rename(tmp_path / "queries.jsonl.1")  # what logrotate does (create mode)
        log.record("search", q="after", total=1)
        wait_until(lambda: path.exists() and path.read_text())
    finally:
        log.close()
    assert [json.loads(x)["q"] for x in path.read_text().splitlines()] == ["after"]
    old = (tmp_path / "queries.jsonl.1").read_text().splitlines()
    assert [json.loads(x)["q"] for x in old] == ["before"]
    assert log.written == 2 and log.dropped == 0


def test_an_unwritable_log_says_so(tmp_path: Path) -> None:
    with pytest.raises(QueryLogError) as error:
        QueryLog(tmp_path / "missing-folder" / "queries.jsonl")
    assert error.value.exit_code == 14 and "query log" in error.value.message


def _search(t: str, q: str, total: int, **extra: Any) -> dict[str, Any]:
    return {"t": t, "ev": "search", "q": q, "subject": None, "page": 1, "total": total,
            "hits": min(total, 10), "suggestion": None, "ms": 2.0, "gen": "g1",
            "top": "Biology" if total else None, "typing": False, "id": None, **extra}  # fmt: skip


def _click(t: str, q: str, rank: int, search_id: str | None = None) -> dict[str, Any]:
    return {"t": t, "ev": "click", "q": q, "url": "/learn/x", "rank": rank, "id": search_id}


def _log(path: Path, events: list[dict[str, Any]], junk: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(e) for e in events] + list(junk)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _sample_events() -> list[dict[str, Any]]:
    day = "2026-11-30T10:00:"
    return [
        _search(day + "00.000Z", "photosynthesis", 40, id="a1"),
        _search(day + "01.000Z", "photosynthesis", 40, id="a2"),
        _search(day + "02.000Z", "photosynthesis", 40, id="a3"),
        _search(day + "03.000Z", "photosynthesis", 40, id="a4", page=2),  # paging on
        _click(day + "04.000Z", "photosynthesis", 1, "a1"),
        _click(day + "05.000Z", "photosynthesis", 3, "a1"),  # same search, second click
        _click(day + "06.000Z", "photosynthesis", 2, "a2"),
        _search(day + "07.000Z", "quokka husbandry", 0, suggestion="quokka"),
        _search(day + "08.000Z", "quokka husbandry", 0),
        _search(day + "09.000Z", "osmosis", 5, ms=90.0),
        _search(day + "10.000Z", "osmosis", 5),
        _search(day + "11.000Z", "osmosis", 5),
        # Typed on the page: "mito", "mitochon" are steps to "mitochondria".
        _search(day + "20.000Z", "mito", 9, typing=True),
        _search(day + "20.400Z", "mitochon", 3, typing=True),
        _search(day + "21.000Z", "mitochondria", 3, typing=True),
        _search("2026-12-01T09:00:00.000Z", "later", 1, subject="Physics"),
    ]


def test_the_report_sums_searches_clicks_and_misses(tmp_path: Path) -> None:
    path = _log(tmp_path / "q.jsonl", _sample_events(), junk=('{"t": "2026-11-3', "not json"))
    report = build_report([path], top=10, min_searches=3)
    assert report.searches == 13 and report.clicks == 3
    assert report.zero_result_searches == 2
    assert report.damaged_lines == 2
    assert report.typing_folded == 2
    by_query = {s.query: s for s in report.top_queries}
    assert "mito" not in by_query and by_query["mitochondria"].searches == 1
    photo = by_query["photosynthesis"]
    assert photo.searches == 3  # page 2 is not another search
    assert photo.clicks == 3 and photo.clicked_searches == 2
    assert photo.click_through == pytest.approx(2 / 3, abs=1e-3)
    assert photo.mean_click_rank == 2.0
    assert [(s.query, s.zero_results, s.suggestion) for s in report.zero_result_queries] == [
        ("quokka husbandry", 2, "quokka")
    ]
    assert [s.query for s in report.rarely_clicked] == ["osmosis", "photosynthesis"]
    assert report.slowest_queries[0].query == "osmosis"
    assert report.slowest_queries[0].max_ms == 90.0
    subjects = {s.subject: s.searches for s in report.subjects}
    assert subjects == {"Biology": 7, "(none)": 2, "Physics": 1}
    # Most searched first, ties in alphabetical order.
    assert [q["query"] for q in report.to_dict()["top_queries"][:3]] == [
        "osmosis",
        "photosynthesis",
        "quokka husbandry",
    ]


def test_the_window_and_rotated_files(tmp_path: Path) -> None:
    events = _sample_events()
    older, newer = events[:8], events[8:]
    with gzip.open(tmp_path / "q.jsonl.2.gz", "wt") as handle:
        handle.write("\n".join(json.dumps(e) for e in older[:4]) + "\n")
    _log(tmp_path / "q.jsonl.1", older[4:])
    _log(tmp_path / "q.jsonl", newer)
    files = report_files(tmp_path / "q.jsonl")
    assert [f.name for f in files] == ["q.jsonl.2.gz", "q.jsonl.1", "q.jsonl"]
    assert build_report(files).searches == 13
    assert build_report(files, since="2026-12-01").searches == 1
    assert build_report(files, until="2026-12-01").searches == 12
    assert build_report(files, since="2026-11-30T10:00:09").searches == 7


def test_moments(tmp_path: Path) -> None:
    assert parse_moment("2026-12-01") == "2026-12-01T00:00:00.000Z"
    assert parse_moment("2026-12-01T06:30+01:00") == "2026-12-01T05:30:00.000Z"
    assert parse_moment("7d") < parse_moment("1h") < parse_moment("0m")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quicksearch", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_report_cli_prints_tables_and_json(tmp_path: Path) -> None:
    path = _log(tmp_path / "q.jsonl", _sample_events(), junk=("garbage",))
    shown = _run(str(path))
    assert shown.returncode == 0, shown.stderr
    for text in ("13 searches", "No results: pages to write", "quokka husbandry", "damaged"):
        assert text in shown.stdout
    data = json.loads(_run(str(path), "--json", "--since", "2026-11-30", "--top", "1").stdout)
    assert data["searches"] == 13 and len(data["top_queries"]) == 1
    assert data["zero_result_queries"][0]["query"] == "quokka husbandry"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing.jsonl"], 2, "cannot read"),
        (["q.jsonl", "--since", "last tuesday"], 2, "cannot read 'last tuesday' as a date"),
        (["missing.jsonl", "--rotated"], 1, "no query log"),
    ],
)
def test_report_cli_errors_are_one_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    _log(tmp_path / "q.jsonl", _sample_events())
    done = _run(*[str(tmp_path / a) if a.endswith(".jsonl") else a for a in args])
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr


def test_serve_refuses_an_unwritable_query_log(tmp_path: Path) -> None:
    build_index(FIXTURES / "pages", tmp_path / "ix", jobs=1)
    done = subprocess.run(
        [sys.executable, "-m", "quicksearch", "serve", "--index", str(tmp_path / "ix"),
         "--query-log", str(tmp_path / "no" / "such" / "dir.jsonl")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 14 and "Traceback" not in done.stderr
    assert "cannot open the query log" in done.stderr


def _get(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_two_workers_log_every_search_once_and_metrics_add_up(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from prometheus_client.parser import text_string_to_metric_families

    build_index(FIXTURES / "pages", tmp_path / "ix", jobs=1)
    log = tmp_path / "queries.jsonl"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    server = subprocess.Popen(
        [sys.executable, "-m", "quicksearch", "serve", "--index", str(tmp_path / "ix"),
         "--port", str(port), "--workers", "2", "--query-log", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        wait_until(lambda: _ping(base), timeout=60)
        queries = [f"acid {i}" if i % 3 else f"xqzvbnm{i}" for i in range(300)]
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda q: _get(f"{base}/search?q={q.replace(' ', '+')}"), queries)
            )
            url = "/learn/biology/questions/what-triggers-regulated-exocytosis"
            click = json.dumps({"q": "acid 1", "url": url, "rank": 1}).encode()
            clicks = list(pool.map(lambda _: _get(f"{base}/click", click), range(20)))
        assert {status for status, _ in answers} == {200}
        assert {status for status, _ in clicks} == {204}
        # Scrapes land on either worker; each sums both.
        for _ in range(4):
            families = {
                s.name: s.value
                for f in text_string_to_metric_families(_get(f"{base}/metrics")[1].decode())
                for s in f.samples
                if s.labels.get("endpoint") in (None, "/search") and s.labels.get("status") != "400"
            }
            assert families["quicksearch_http_requests_total"] == 300
            assert families["quicksearch_zero_result_searches_total"] == 100
            assert families["quicksearch_clicks_total"] == 20
        wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 320)
    finally:
        server.terminate()
        server.wait(30)
    events = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert sorted(e["q"] for e in events if e["ev"] == "search") == sorted(queries)
    assert sum(e["ev"] == "click" for e in events) == 20
    report = build_report([log])
    assert report.searches == 300 and report.zero_result_searches == 100 and report.clicks == 20
    assert len(report.zero_result_queries) == 20  # --top's default
    assert "Traceback" not in (server.stderr.read() if server.stderr else "")


def _ping(base: str) -> bool:
    try:
        return _get(f"{base}/health")[0] == 200
    except OSError:
        return False
