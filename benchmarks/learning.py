"""Does learning from clicks help? Simulated visitors on the real corpus, logged through the
real server, learned with the real command, tested on new searches.

    python benchmarks/learning.py --index /tmp/qs1x [--seeds 1 2] [--eta 0.5 1 2]
        [--sizes 100 300 1000 3000 5000 10000] [--visitors navigational]

There are no real logs here, so visitors are simulated with a standard click model.

- **Ambiguous queries**: dev short and prefix queries whose first four results all score
  within the learned band of the best (several pages hold the words about equally well). Each
  gets visitors with a mix of intents over those four pages (shares drawn per query and seed,
  assigned in random order), so the best possible rank-1 success (the oracle) is the largest
  share, and no learning gets the share of whatever page ranks first.
- **Unambiguous queries** (a guard): dev natural questions; every visitor wants the judged page.
- **Clicks** by a position-based model: rank r is examined with probability (1/r)^eta; an
  examined result is clicked with probability 0.95 if it is the page wanted and 0.05 if not
  (navigational visitors) or 0.9 and 0.3 (informational), one click per url.

Each search goes to the server app (``create_app``, in process) with ``--query-log``, each click
to ``/click`` with the search's id. The log is then spread over the last 30 days (each line's
time rewritten, nothing else; the server stamps the time it runs) and its first N searches are
learned with ``quicksearch learn`` (a subprocess). Tested on the expected outcome of new
searches (no sampling): rank-1 success = the share of visitors whose page is first, MRR@10 of
the guard queries. Controls: clicks by position only (placebo), random clicks, and an attacker
who searches an ambiguous query 300 times a day and clicks a decoy (its 8th result), on one day
(below the evidence threshold) and on ten, mixed into the visitors' first 5,000 searches (the
controls need 5000 among --sizes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from quicksearch import open_index

DEV = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
BAND = 0.7
INTENTS = 4
CLICK = {"navigational": (0.95, 0.05), "informational": (0.9, 0.3)}


def load_queries(index: str, ambiguous_max: int, guard_max: int) -> tuple[list[Any], list[Any]]:
    rows = [json.loads(line) for line in DEV.open()]
    ambiguous, guard, seen = [], [], set()
    with open_index(index) as ix:
        for row in rows:
            q = row["query"]
            if (
                row["type"] in ("short", "prefix")
                and q not in seen
                and len(ambiguous) < ambiguous_max
            ):
                hits = ix.search(q, limit=INTENTS).hits
                if len(hits) == INTENTS and hits[-1].score >= BAND * hits[0].score:
                    ambiguous.append((q, [h.url for h in hits]))
                    seen.add(q)
            elif row["type"] == "natural" and len(guard) < guard_max:
                guard.append((q, row["target"]))
    return ambiguous, guard


def intents(ambiguous: list[Any], rng: random.Random) -> dict[str, list[tuple[str, float]]]:
    """Per ambiguous query: (page, share of visitors), shares drawn and placed at random."""
    out = {}
    for q, urls in ambiguous:
        raw = [rng.expovariate(1.0) for _ in urls]
        shares = [r / sum(raw) for r in raw]
        out[q] = list(zip(rng.sample(urls, len(urls)), shares, strict=True))
    return out


def simulate(
    index: str,
    log: Path,
    plan: list[tuple[str, str | None]],
    clicker: Any,
    rng: random.Random,
) -> None:
    """Run ``plan`` (query, wanted url) through the server, clicking with ``clicker``."""
    from starlette.testclient import TestClient

    from quicksearch.server import ServerConfig, create_app

    config = ServerConfig(index_dir=index, query_log=str(log))
    with TestClient(create_app(config)) as client:
        for q, wanted in plan:
            found = client.get("/search", params={"q": q, "limit": 10}).json()
            for rank, hit in enumerate(found["hits"], 1):
                if clicker(rank, hit["url"], wanted, rng):
                    body = {
                        "q": q,
                        "url": hit["url"],
                        "rank": rank,
                        "search_id": found["search_id"],
                    }
                    client.post("/click", json=body)


def spread_over_days(log: Path, days: int = 30) -> None:
    """Rewrite each line's time so the searches spread evenly over the last ``days`` days."""
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    searches = sum(1 for e in lines if e["ev"] == "search")
    end = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    n, stamp = 0, ""
    for event in lines:
        if event["ev"] == "search":
            moment = end - dt.timedelta(days=days * (1 - n / max(1, searches)))
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            n += 1
        event["t"] = stamp
    log.write_text("".join(json.dumps(e) + "\n" for e in lines))


def first_searches(log: Path, n: int, out: Path) -> None:
    kept, searches = [], 0
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["ev"] == "search":
            searches += 1
            if searches > n:
                break
        kept.append(line)
    out.write_text("\n".join(kept) + "\n")


def learn(log: Path, out: Path, diff: bool = False) -> str:
    command = [sys.executable, "-m", "quicksearch", "learn", str(log), "--out", str(out)]
    done = subprocess.run(command + (["--diff"] if diff else []), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout + done.stderr


def evaluate(
    index: str, learned: Path | None, mix: dict[str, Any], guard: list[Any]
) -> tuple[float, float]:
    """Expected rank-1 success on the ambiguous queries, MRR@10 on the guard queries."""
    with open_index(index, learned=learned) as ix:
        success = 0.0
        for q, shares in mix.items():
            first = ix.search(q, limit=1).hits[0].url
            success += dict(shares).get(first, 0.0)
        mrr = 0.0
        for q, target in guard:
            urls = [h.url for h in ix.search(q, limit=10).hits]
            mrr += 1 / (urls.index(target) + 1) if target in urls else 0.0
    return success / len(mix), mrr / len(guard)


def run(args: argparse.Namespace) -> None:
    ambiguous, guard = load_queries(args.index, args.ambiguous, args.guard)
    print(f"{len(ambiguous)} ambiguous queries, {len(guard)} guard queries")
    tmp = Path(tempfile.mkdtemp(prefix="qs-learning-"))
    results = []
    for seed in args.seeds:
        rng = random.Random(seed)
        mix = intents(ambiguous, rng)
        oracle = sum(max(s for _, s in shares) for shares in mix.values()) / len(mix)
        none, guard_none = evaluate(args.index, None, mix, guard)
        for eta in args.eta:
            hit, miss = CLICK[args.visitors]

            def visitor(rank: int, url: str, wanted: str | None, r: random.Random) -> bool:
                if r.random() >= (1 / rank) ** eta:  # noqa: B023
                    return False
                return r.random() < (hit if url == wanted else miss)  # noqa: B023

            queries = list(mix) + [q for q, _ in guard]
            targets = dict(guard)
            plan = []
            for _ in range(max(args.sizes)):
                q = rng.choice(queries)
                if q in mix:
                    pages, shares = zip(*mix[q], strict=True)
                    plan.append((q, rng.choices(pages, weights=shares)[0]))
                else:
                    plan.append((q, targets[q]))
            log = tmp / f"s{seed}-e{eta}.jsonl"
            started = time.perf_counter()
            simulate(args.index, log, plan, visitor, rng)
            spread_over_days(log)
            print(
                f"seed {seed} eta {eta}: {len(plan)} searches logged in "
                f"{time.perf_counter() - started:.0f} s; oracle {oracle:.3f}, "
                f"no learning {none:.3f}, guard MRR {guard_none:.4f}",
                flush=True,
            )
            for n in args.sizes:
                part, out = tmp / f"s{seed}-e{eta}-{n}.jsonl", tmp / f"s{seed}-e{eta}-{n}.json"
                first_searches(log, n, part)
                learn(part, out)
                success, guard_mrr = evaluate(args.index, out, mix, guard)
                closed = (success - none) / (oracle - none) if oracle > none else 0.0
                row = {"seed": seed, "eta": eta, "searches": n, "oracle": oracle, "none": none,
                       "learned": success, "gap_closed": closed, "guard_mrr_none": guard_none,
                       "guard_mrr": guard_mrr, "queries_learned":
                       len(json.loads(out.read_text())["queries"])}  # fmt: skip
                results.append(row)
                print(
                    f"  {n:>6} searches: rank-1 success {success:.3f} (gap closed "
                    f"{closed:+.0%}), guard MRR {guard_mrr:.4f} ({guard_mrr - guard_none:+.4f}), "
                    f"{row['queries_learned']} queries learned",
                    flush=True,
                )
        if args.controls:
            results += controls(args, ambiguous, guard, mix, none, tmp, rng)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def controls(
    args: argparse.Namespace,
    ambiguous: list[Any],
    guard: list[Any],
    mix: dict[str, Any],
    none: float,
    tmp: Path,
    rng: random.Random,
) -> list[dict[str, Any]]:
    rows = []
    queries = [q for q, _ in ambiguous]
    n = args.control_searches
    for name, clicker in [
        ("placebo", lambda rank, url, wanted, r: r.random() < 0.5 / rank),
        ("random", lambda rank, url, wanted, r: r.random() < 0.1),
    ]:
        log = tmp / f"{name}.jsonl"
        simulate(args.index, log, [(rng.choice(queries), None) for _ in range(n)], clicker, rng)
        spread_over_days(log)
        out = tmp / f"{name}.json"
        learn(log, out)
        success, _ = evaluate(args.index, out, mix, guard)
        rows.append({"control": name, "searches": n, "learned": success, "none": none,
                     "change": success - none})  # fmt: skip
        print(
            f"control {name}: rank-1 success {success:.3f} ({success - none:+.3f}), "
            f"{len(json.loads(out.read_text())['queries'])} queries learned",
            flush=True,
        )
    # The attacker: one query, a decoy far down its results, many searches with a click.
    target = queries[0]
    with open_index(args.index) as ix:
        decoy = ix.search(target, limit=10).hits[7].url
    for days in (1, 10):
        log = tmp / f"attack{days}.jsonl"
        simulate(args.index, log, [(target, decoy)] * 300 * days,
                 lambda rank, url, wanted, r: url == wanted, rng)  # fmt: skip
        spread_over_days(log, days)
        # Mixed into the visitors' own 5,000 searches, as it would be on a real site.
        normal = sorted(tmp.glob("s*-e*-5000.jsonl"))[0]
        log.write_text(normal.read_text() + log.read_text())
        out = tmp / f"attack{days}.json"
        diff = learn(log, out, diff=True)
        learn(log, out)
        with open_index(args.index, learned=out) as ix:
            urls = [h.url for h in ix.search(target, limit=10).hits]
        rank = urls.index(decoy) + 1 if decoy in urls else None
        rows.append({"control": f"attacker over {days} day(s)", "decoy_rank": rank,
                     "in_diff": decoy in diff})  # fmt: skip
        print(
            f"control attacker, {300 * days} searches over {days} day(s): decoy at rank "
            f"{rank} (from 8), shown by --diff: {decoy in diff}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--eta", type=float, nargs="+", default=[1.0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000, 5000, 10000])
    parser.add_argument("--visitors", choices=list(CLICK), default="navigational")
    parser.add_argument("--ambiguous", type=int, default=50)
    parser.add_argument("--guard", type=int, default=50)
    parser.add_argument("--controls", action="store_true")
    parser.add_argument("--control-searches", type=int, default=5000)
    parser.add_argument("--json")
    args = parser.parse_args()
    if not DEV.exists():
        raise SystemExit(f"needs the dev queries at {DEV}")
    run(args)


if __name__ == "__main__":
    main()
