"""Relevance on a query file, quicksearch and SQLite FTS5 side by side in one run.

Usage:
    python benchmarks/relevance.py --corpus /tmp/qt/content [--index DIR] [--queries FILE]

Builds (or reuses) a full quicksearch index of the corpus and an SQLite FTS5 table of the same
pages (porter tokenizer; bm25 with column weights question 5, keywords 3, answer 1; the query's
words joined by OR), runs every query of the file (../shared/eval/quicktakes-dev.jsonl by
default; format and metrics in ../shared/eval/README.md) with 10 results, and prints MRR@10,
S@1, S@10 and nDCG@10 per query type for both engines, plus latency.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from eval_dev import inputs_present, latency_line, metrics

from quicksearch import build_index, open_index
from quicksearch.analysis import STOP_WORDS
from quicksearch.documents import find_pages
from quicksearch.sources import OK, scan_task

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
NAMES = ["MRR@10", "S@1", "S@10", "nDCG@10"]


def build_fts5(corpus: Path, db_path: Path) -> float:
    started = time.perf_counter()
    db_path.unlink(missing_ok=True)
    db = sqlite3.connect(db_path)
    db.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(url UNINDEXED, question, keywords, answer, "
        "tokenize='porter unicode61')"
    )
    paths = find_pages(corpus)
    tasks = [(str(p), str(p), 1_000_000) for p in paths]
    seen: set[str] = set()
    rows = []
    with ProcessPoolExecutor() as pool:
        for record, doc in pool.map(scan_task, tasks, chunksize=256):
            if record.status == OK and doc is not None and doc.url not in seen:
                seen.add(doc.url)
                rows.append((doc.url, doc.question, ", ".join(doc.keywords), doc.answer))
    db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return time.perf_counter() - started


def fts5_search(db: sqlite3.Connection, query: str) -> list[str]:
    words = [w for w in re.findall(r"\w+", query.lower()) if w not in STOP_WORDS]
    if not words:
        return []
    match = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))
    sql = "SELECT url FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 5, 3, 1) LIMIT 10"
    return [row[0] for row in db.execute(sql, (match,))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="content folder of pages")
    parser.add_argument("--index", type=Path, default=Path("/tmp/quicksearch-bench/index"))
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--rebuild", action="store_true", help="rebuild both indexes")
    args = parser.parse_args()
    if not inputs_present(corpus=args.corpus, queries=args.queries):
        return 2
    queries = [json.loads(x) for x in args.queries.read_text().splitlines() if x.strip()]

    db_path = args.index.parent / "fts5.sqlite"
    if args.rebuild or not (args.index / "CURRENT").exists():
        report = build_index(args.corpus, args.index, force=True)
        print(f"quicksearch index: {report.documents:,} documents in {report.seconds:.1f} s")
    if args.rebuild or not db_path.exists():
        print(f"FTS5 table: built in {build_fts5(args.corpus, db_path):.1f} s")

    results: dict[str, dict[str, list[dict[str, float]]]] = {"quicksearch": {}, "FTS5": {}}
    latency: dict[str, list[float]] = defaultdict(list)
    db = sqlite3.connect(db_path)
    with open_index(args.index) as index:
        index.search("warm up")
        for q in queries:
            started = time.perf_counter()
            ours = [hit.url for hit in index.search(q["query"], limit=10).hits]
            latency["quicksearch"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            theirs = fts5_search(db, q["query"])
            latency["FTS5"].append((time.perf_counter() - started) * 1000)
            for engine, urls in (("quicksearch", ours), ("FTS5", theirs)):
                results[engine].setdefault(q["type"], []).append(metrics(urls, q["relevant"]))

    print(f"\n{len(queries)} queries from {args.queries.name}, 10 results each")
    print(f"{'type':<9}{'n':>5}  " + "  ".join(f"{n:>17}" for n in NAMES))
    print(f"{'':<14}  " + "  ".join(f"{'quick':>8} {'FTS5':>8}" for _ in NAMES))
    for qtype in sorted(results["quicksearch"]):
        rows = results["quicksearch"][qtype]
        line = f"{qtype:<9}{len(rows):>5}  "
        for name in NAMES:
            a = statistics.fmean(r[name] for r in rows)
            b = statistics.fmean(r[name] for r in results["FTS5"][qtype])
            line += f"{a:>8.3f} {b:>8.3f}  "
        print(line)
    for engine, values in latency.items():
        print(latency_line(f"{engine:<12}", values))
    print("(quicksearch times include snippets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
