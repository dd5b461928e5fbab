"""Search that learns from its visitors: the query log lists what each search showed, ``learn``
fits a position-based click model to it, and the learned file reorders results on both engines
within its bounds, and adds popular whole queries to completions. The safeguards are tested
one by one: evidence over days, clicks only on shown urls and once per search, position-only
clicks learn nothing, an excluded or switched-off query changes nothing, and without a file
nothing changes at all."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from quicksearch import Document, build_index, open_index
from quicksearch.cli import main
from quicksearch.learning import LearningOptions, learn

NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)
#: Five pages holding both words equally: lexically, a tie (the ambiguous case).
TIED = [f"/learn/persuasive-{k}" for k in range(5)]


def _pages() -> list[Document]:
    pages = [
        Document(
            url=url,
            question=f"How is persuasive writing used in case {k}?",
            answer=f"Persuasive writing in case {k} uses claims and evidence.",
            subject="English",
        )
        for k, url in enumerate(TIED)
    ]
    pages += [
        Document(
            url=f"/learn/other-{k}",
            question=f"What is photosynthesis step {k}?",
            answer="Plants turn light into sugar.",
            subject="Biology",
        )
        for k in range(6)
    ]
    return pages


def _log(
    path: Path,
    query: str,
    searches: int,
    days: int,
    clicker,  # type: ignore[no-untyped-def]
    shown: list[str],
    seed: int = 1,
) -> None:
    """Searches of ``query`` in the server's log format, ``shown`` in a shuffled order each
    time (as tie shuffling shows them), and the clicks ``clicker(rank, url, rng)`` makes."""
    rng = random.Random(seed)
    with path.open("a", encoding="utf-8") as out:
        for n in range(searches):
            day = NOW - dt.timedelta(days=n % days, hours=1)
            t = day.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            order = rng.sample(shown, len(shown))
            sid = f"{seed}-{query}-{n}"
            search = {"t": t, "ev": "search", "q": query, "page": 1, "limit": 10, "total": 5,
                      "hits": len(order), "id": sid, "shown": order}  # fmt: skip
            out.write(json.dumps(search) + "\n")
            for rank, url in enumerate(order, 1):
                if clicker(rank, url, rng):
                    click = {"t": t, "ev": "click", "q": query, "url": url, "rank": rank, "id": sid}
                    out.write(json.dumps(click) + "\n")


def _wants(target: str, share: float = 0.8):  # type: ignore[no-untyped-def]
    """Navigational visitors: most want ``target``; examination falls as 1/rank."""
    return lambda rank, url, rng: (
        rng.random() < (1 / rank) * (0.9 if url == target else 0.9 * (1 - share) / 4)
    )


def _learned(tmp_path: Path, log: Path, **options: int) -> Path:
    data = learn([log], options=LearningOptions(**options), now=NOW)
    out = tmp_path / "learned.json"
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


@pytest.mark.parametrize("engine", ["embedded", "cluster"])
def test_a_learned_preference_moves_the_wanted_page_up_on_both_engines(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from .conftest import new_location

    where = new_location(engine, request, tmp_path)
    build_index(_pages(), where, jobs=1)
    log = tmp_path / "queries.jsonl"
    wanted = TIED[3]
    _log(log, "persuasive writing", 60, 10, _wants(wanted), TIED)
    learned = _learned(tmp_path, log)
    with open_index(where) as plain, open_index(where, learned=learned) as taught:
        before = [h.url for h in plain.search("persuasive writing").hits]
        after = taught.search("Persuasive  Writing")  # as typed: normalised like the log
        assert before[0] != wanted  # a tie broken by page number: not the one visitors want
        assert after.hits[0].url == wanted
        assert sorted(h.url for h in after.hits) == sorted(before)  # reordered, none added
        assert after.total == plain.search("persuasive writing").total
        moved = before.index(wanted) - 0
        assert moved <= 3  # at most max_move places
        # Other queries, other windows: unchanged.
        for query in ["photosynthesis", "persuasive", "writing case"]:
            assert taught.search(query).to_dict() == plain.search(query).to_dict()


def test_without_a_file_nothing_changes(fixture_index: str) -> None:
    with open_index(fixture_index) as plain, open_index(fixture_index, learned=None) as same:
        for query in ["acid", "regulated exocytosis", "mitochondira"]:
            assert same.search(query).to_dict() == plain.search(query).to_dict()
            assert same.complete(query).to_dict() == plain.complete(query).to_dict()


def test_evidence_must_span_days_and_searches(tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    # An attacker: 500 searches with a click on the decoy, all on one day.
    _log(log, "persuasive writing", 500, 1, _wants(TIED[4], share=1.0), TIED)
    assert learn([log], now=NOW)["queries"] == {}
    # The same over ten days is evidence, and --diff shows it before it is deployed.
    log.unlink()
    _log(log, "persuasive writing", 500, 10, _wants(TIED[4], share=1.0), TIED)
    data = learn([log], now=NOW)
    assert next(iter(data["queries"]["persuasive writing"]["urls"])) == TIED[4]
    # Outside the window: forgotten.
    later = NOW + dt.timedelta(days=120)
    assert learn([log], now=later)["queries"] == {}


def test_position_only_and_random_clicks_rarely_learn_anything(tmp_path: Path) -> None:
    """Clicks that follow position alone, or chance, give no page clicks beyond what its ranks
    get on average: over 20 logs of 400 searches each, at most one page in 100 passes the
    2.75-sd test by chance (measured: placebo 0 of 20 logs, random 1 of 20)."""
    learned = {"placebo": 0, "random": 0}
    for seed in range(1, 21):
        for name, clicker in [
            ("placebo", lambda r, u, rng: rng.random() < 0.6 / r),
            ("random", lambda r, u, rng: rng.random() < 0.15),
        ]:
            log = tmp_path / f"{name}{seed}.jsonl"
            _log(log, "persuasive writing", 400, 10, clicker, TIED, seed=seed)
            learned[name] += bool(learn([log], now=NOW)["queries"])
    assert learned["placebo"] == 0 and learned["random"] <= 1, learned


def test_clicks_count_once_per_search_and_only_on_shown_urls(tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    _log(log, "persuasive writing", 40, 5, lambda r, u, rng: False, TIED)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    with log.open("a") as out:
        for search in lines:
            for url in ["/learn/not-shown", search["shown"][0], search["shown"][0]]:
                click = {"t": search["t"], "ev": "click", "q": search["q"], "url": url,
                         "rank": 1, "id": search["id"]}  # fmt: skip
                out.write(json.dumps(click) + "\n")
        out.write(json.dumps({**lines[0], "ev": "click", "id": "no-such-search"}) + "\n")
    data = learn([log], now=NOW)
    assert data["ignored_clicks"] == 40 * 2 + 1  # the unshown url and the repeat, per search


def test_switched_off_and_excluded_queries_change_nothing(tmp_path: Path) -> None:
    where = tmp_path / "ix"
    build_index(_pages(), where, jobs=1)
    log = tmp_path / "q.jsonl"
    _log(log, "persuasive writing", 60, 10, _wants(TIED[3]), TIED)
    path = _learned(tmp_path, log)
    data = json.loads(path.read_text())
    data["queries"]["persuasive writing"]["enabled"] = False
    path.write_text(json.dumps(data))
    with open_index(where) as plain, open_index(where, learned=path) as taught:
        assert (
            taught.search("persuasive writing").to_dict()
            == plain.search("persuasive writing").to_dict()
        )
    # Learning again keeps the switch, and an exclusion removes the query.
    again = learn([log], now=NOW, previous=data)
    assert again["queries"]["persuasive writing"]["enabled"] is False
    data["exclude"]["queries"] = ["persuasive writing"]
    assert learn([log], now=NOW, previous=data)["queries"] == {}


def test_popular_queries_complete_what_is_typed(tmp_path: Path) -> None:
    where = tmp_path / "ix"
    build_index(_pages(), where, jobs=1)
    log = tmp_path / "q.jsonl"
    _log(log, "persuasive writing", 60, 10, _wants(TIED[3]), TIED)
    _log(log, "persuasive writing case", 5, 5, _wants(TIED[3]), TIED, seed=2)  # too rare
    with log.open("a") as out:  # searched often, but never found anything
        for n in range(50):
            t = (NOW - dt.timedelta(days=n % 7)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            out.write(json.dumps({"t": t, "ev": "search", "q": "persuasive zzz", "total": 0,
                                  "id": f"z{n}", "shown": [], "page": 1}) + "\n")  # fmt: skip
    path = _learned(tmp_path, log)
    with open_index(where, learned=path) as ix:
        assert ix.complete("persu").queries[0] == "persuasive writing"
        assert "persuasive zzz" not in ix.complete("persuasive").queries
        assert "persuasive writing case" not in ix.complete("persuasive wri").queries


def test_learn_command_diff_and_write(tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    _log(log, "persuasive writing", 60, 10, _wants(TIED[2]), TIED)
    out = tmp_path / "learned.json"
    runner = CliRunner()
    shown = runner.invoke(main, ["learn", str(log), "--out", str(out), "--diff"])
    assert shown.exit_code == 0, shown.output
    assert f"+ 'persuasive writing': prefers {TIED[2]}" in shown.output
    assert not out.exists()
    wrote = runner.invoke(main, ["learn", str(log), "--out", str(out)])
    assert wrote.exit_code == 0, wrote.output
    assert json.loads(out.read_text())["queries"]["persuasive writing"]["searches"] == 60
    again = runner.invoke(main, ["learn", str(log), "--out", str(out), "--diff"])
    assert "(no query would change)" in again.output


def test_suggest_serves_popular_queries_from_the_learned_file(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from quicksearch.server import ServerConfig, create_app

    where = tmp_path / "ix"
    build_index(_pages(), where, jobs=1)
    log = tmp_path / "q.jsonl"
    _log(log, "persuasive writing", 60, 10, _wants(TIED[3]), TIED)
    path = _learned(tmp_path, log)
    config = ServerConfig(index_dir=str(where), learned=str(path))
    with TestClient(create_app(config)) as client:
        answer = client.get("/suggest", params={"q": "persu"}).json()
        found = client.get("/search", params={"q": "persuasive writing"}).json()
    assert answer["queries"][0] == "persuasive writing"
    assert found["hits"][0]["url"] == TIED[3]
