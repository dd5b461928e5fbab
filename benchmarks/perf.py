"""Speed and memory of quicksearch, with SQLite FTS5 measured in the same run.

Usage:
    python benchmarks/perf.py --corpus /tmp/qt/content [--queries FILE] [--workdir DIR] [--json OUT]
        [--cluster typesense://HOST:PORT,.../NAME]

Measures, on this machine and in this order: the full build (wall time, documents per second,
peak RSS of the largest build process and of all of them together), a no-change update, the
index size, query latency p50/p95/p99 over the query file (limit 10, snippets included), the
memory of a process holding an open Searcher after those queries, and a cold `quicksearch search`
(new process to printed results, median of 5). SQLite FTS5 gets the same corpus (porter
tokenizer, bm25 with column weights 5/3/1, an OR query with snippet()) for build time and query
latency. With --cluster, the cluster engine is built (one full build) and probed the same way
after the embedded one, and printed beside it. This machine is noisy: compare the ratios of one
run, not figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval_dev import inputs_present
from relevance import build_fts5

from quicksearch.analysis import STOP_WORDS

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
EXE = shutil.which("quicksearch") or "quicksearch"

SEARCHER_PROBE = """
import json, os, sys, time
import quicksearch
queries = [json.loads(x)["query"] for x in open(sys.argv[2]) if x.strip()]
def rss():
    return int(open(f"/proc/{os.getpid()}/status").read().split("VmRSS:")[1].split()[0]) / 1024
times = []
with quicksearch.open_index(sys.argv[1]) as index:
    index.warm()  # as a server does before serving
    for q in queries:
        started = time.perf_counter()
        index.search(q, limit=10)
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"times": times, "rss_mib": rss()}))
"""


def _tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += int(f.read().split("VmRSS:")[1].split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


def run(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, the peak RSS (MiB) of the largest single process, and the peak of the
    whole process tree's summed RSS (sampled every 0.1 s) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    tree_peak = 0.0
    while process.poll() is None:
        tree_peak = max(tree_peak, _tree_rss_mib(process.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, cmd)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) // 1024, round(tree_peak)


def index_stats(index: Path) -> dict[str, object]:
    """``quicksearch stats --json`` of an index."""
    out = subprocess.run(
        [EXE, "stats", "--index", str(index), "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def quantiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def fts5_latency(db_path: Path, queries: list[str]) -> list[float]:
    import re

    db = sqlite3.connect(db_path)
    sql = (
        "SELECT url, snippet(docs, 3, '<mark>', '</mark>', '…', 30) FROM docs "
        "WHERE docs MATCH ? ORDER BY bm25(docs, 0, 5, 3, 1) LIMIT 10"
    )
    times = []
    for query in queries:
        words = [w for w in re.findall(r"\w+", query.lower()) if w not in STOP_WORDS]
        started = time.perf_counter()
        if words:
            db.execute(sql, (" OR ".join(f'"{w}"' for w in dict.fromkeys(words)),)).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--cluster",
        metavar="LOCATION",
        help="also build and query the cluster engine at typesense://HOST:PORT,.../NAME "
        "(key in QUICKSEARCH_TYPESENSE_API_KEY) and print it beside the embedded engine",
    )
    args = parser.parse_args()
    if not inputs_present(corpus=args.corpus, queries=args.queries):
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qs-perf-"))
    index = workdir / "index"
    shutil.rmtree(index, ignore_errors=True)
    queries = [json.loads(x)["query"] for x in args.queries.read_text().splitlines() if x.strip()]
    figures: dict[str, object] = {"queries": len(queries)}

    # Builds on this machine vary by up to 30% from run to run: two builds per engine,
    # interleaved (quicksearch, FTS5, quicksearch, FTS5), and the better of each pair.
    builds, fts_builds = [], []
    for _ in range(2):
        shutil.rmtree(index, ignore_errors=True)
        builds.append(
            run(
                [
                    EXE,
                    "index",
                    str(args.corpus),
                    "--index",
                    str(index),
                    "--full",
                    "--force",
                    "--quiet",
                ]
            )
        )
        fts_builds.append(build_fts5(args.corpus, workdir / "fts5.sqlite"))
    build_s = min(b[0] for b in builds)
    build_rss = max(b[1] for b in builds)
    build_tree_rss = max(b[2] for b in builds)
    fts_build_s = min(fts_builds)
    stats = index_stats(index)
    update_s, _, _ = run([EXE, "index", str(args.corpus), "--index", str(index), "--quiet"])
    probe = subprocess.run(
        [sys.executable, "-c", SEARCHER_PROBE, str(index), str(args.queries)],
        capture_output=True,
        text=True,
        check=True,
    )
    probed = json.loads(probe.stdout)
    cold = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(
            [EXE, "search", "regulated exocytosis", "--index", str(index)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cold.append(time.perf_counter() - started)
    fts_times = fts5_latency(workdir / "fts5.sqlite", queries)

    ours, theirs = quantiles(probed["times"]), quantiles(fts_times)
    figures.update(
        {
            "documents": stats["documents"],
            "build_seconds": round(build_s, 1),
            "build_docs_per_second": round(stats["documents"] / build_s),
            "build_peak_rss_mib": build_rss,
            "build_peak_rss_all_processes_mib": build_tree_rss,
            "no_change_update_seconds": round(update_s, 2),
            "index_mib": round(stats["size_bytes"] / 2**20, 1),
            "query_ms": {k: round(v, 1) for k, v in ours.items()},
            "searcher_rss_mib": round(probed["rss_mib"]),
            "cold_search_seconds_median": round(statistics.median(cold), 2),
            "fts5_build_seconds": round(fts_build_s, 1),
            "fts5_query_ms": {k: round(v, 1) for k, v in theirs.items()},
        }
    )

    print(f"corpus {args.corpus} ({stats['documents']:,} documents), {len(queries)} queries")
    print(f"{'':<30}{'quicksearch':>14}{'FTS5':>12}{'ratio':>9}")
    print(
        f"{'full build (s), better of 2':<30}{build_s:>14.1f}{fts_build_s:>12.1f}"
        f"{build_s / fts_build_s:>9.2f}"
    )
    print(
        f"{'  each build (s)':<30}{' / '.join(f'{b[0]:.1f}' for b in builds):>14}"
        f"{' / '.join(f'{b:.1f}' for b in fts_builds):>12}"
    )
    for key in ("p50", "p95", "p99"):
        a, b = ours[key], theirs[key]
        print(f"{'query ' + key + ' (ms)':<30}{a:>14.1f}{b:>12.1f}{a / b:>9.2f}")
    print(f"{'build docs/s':<30}{stats['documents'] / build_s:>14.0f}")
    print(f"{'build peak RSS (MiB)':<30}{build_rss:>14}  largest process")
    print(f"{'':<30}{build_tree_rss:>14}  all processes together")
    print(f"{'no-change update (s)':<30}{update_s:>14.2f}")
    print(f"{'index size (MiB)':<30}{stats['size_bytes'] / 2**20:>14.1f}")
    print(f"{'Searcher RSS after queries (MiB)':<30}{probed['rss_mib']:>14.0f}")
    print(f"{'cold CLI search, median (s)':<30}{statistics.median(cold):>14.2f}")
    print("(quicksearch queries include snippets; FTS5 queries include snippet())")
    if args.cluster:
        figures["cluster"] = cluster_figures(args, ours, build_s)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def cluster_figures(
    args: argparse.Namespace, embedded: dict[str, float], embedded_build: float
) -> dict[str, object]:
    """The cluster engine, built and probed the same way, printed beside the embedded one."""
    corpus, location = str(args.corpus), args.cluster
    build_s, _, _ = run([EXE, "index", corpus, "--index", location, "--full", "--force", "-q"])
    probe = subprocess.run(
        [sys.executable, "-c", SEARCHER_PROBE, location, str(args.queries)],
        capture_output=True,
        text=True,
        check=True,
    )
    probed = json.loads(probe.stdout)
    theirs = quantiles(probed["times"])
    print(f"\ncluster {location}")
    print(f"{'':<30}{'embedded':>14}{'cluster':>12}{'ratio':>9}")
    print(
        f"{'full build (s)':<30}{embedded_build:>14.1f}{build_s:>12.1f}"
        f"{build_s / embedded_build:>9.2f}"
    )
    for key in ("p50", "p95", "p99"):
        a, b = embedded[key], theirs[key]
        print(f"{'query ' + key + ' (ms)':<30}{a:>14.1f}{b:>12.1f}{b / a:>9.2f}")
    print(f"{'Searcher RSS (MiB)':<30}{'':>14}{probed['rss_mib']:>12.0f}")
    return {
        "build_seconds": round(build_s, 1),
        "query_ms": {k: round(v, 1) for k, v in theirs.items()},
        "searcher_rss_mib": round(probed["rss_mib"]),
    }


if __name__ == "__main__":
    raise SystemExit(main())
