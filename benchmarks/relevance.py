"""Relevance on a query file, quicksearch and SQLite FTS5 side by side in one run.

Usage:
    python benchmarks/relevance.py --corpus /tmp/qt/content [--index DIR] [--queries FILE]
        [--cluster typesense://HOST:PORT,.../NAME]

Builds (or reuses) a full quicksearch index of the corpus and an SQLite FTS5 table of the same
pages (porter tokenizer; bm25 with column weights question 5, keywords 3, answer 1; the query's
words joined by OR), runs every query of the file (../shared/eval/quicktakes-dev.jsonl by
default; format and metrics in ../shared/eval/README.md) with 10 results, and prints MRR@10,
S@1, S@10 and nDCG@10 per query type for both engines, plus latency. With --cluster (API key
in QUICKSEARCH_TYPESENSE_API_KEY), the cluster engine and raw Typesense (the cleaned pages in a
collection ``NAME_raw``: weights 4/2/1, prefix on question and keywords, 2 typos, one hit per
question, words dropped below 10 matches) are measured in the same run too.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
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
    tasks = [(str(p), str(p), 1_000_000, None) for p in paths]
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


def build_raw_typesense(corpus: Path, location: str) -> tuple[object, str, float]:
    """Raw Typesense as a reference: the cleaned pages as they are (no analysis of ours),
    in a collection beside the cluster index, ``<name>_raw``."""
    from quicksearch.engines.typesense.client import Cluster
    from quicksearch.fields import question_key
    from quicksearch.location import parse_location

    parsed = parse_location(location)
    cluster = Cluster(parsed)  # type: ignore[arg-type]
    name = f"{parsed.collection}_raw"  # type: ignore[union-attr]
    started = time.perf_counter()
    cluster.drop_collection(name)
    fields = [
        {"name": "question", "type": "string"},
        {"name": "keywords", "type": "string"},
        {"name": "answer", "type": "string"},
        {"name": "qkey", "type": "string", "facet": True},
    ]
    cluster.create_collection({"name": name, "fields": fields})
    paths = find_pages(corpus)
    tasks = [(str(p), str(p), 1_000_000, None) for p in paths]
    seen: set[str] = set()
    batch: list[dict[str, str]] = []
    with ProcessPoolExecutor() as pool:
        for record, doc in pool.map(scan_task, tasks, chunksize=256):
            if record.status == OK and doc is not None and doc.url not in seen:
                seen.add(doc.url)
                batch.append(
                    {
                        "id": str(len(seen)),
                        "url": doc.url,
                        "question": doc.question,
                        "keywords": ", ".join(doc.keywords),
                        "answer": doc.answer,
                        "qkey": question_key(doc.question),
                    }
                )
                if len(batch) >= 2000:
                    cluster.import_documents(name, batch)
                    batch = []
    cluster.import_documents(name, batch)
    return cluster, name, time.perf_counter() - started


def raw_typesense_search(cluster, name: str, query: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The issue's sensible configuration: weights 4/2/1, prefix on question and keywords,
    two typos, one hit per question, words dropped while fewer than 10 pages match."""
    search = {
        "q": query[:1000] or "*",
        "query_by": "question,keywords,answer",
        "query_by_weights": "4,2,1",
        "prefix": "true,true,false",
        "num_typos": 2,
        "group_by": "qkey",
        "group_limit": 1,
        "drop_tokens_threshold": 10,
        "per_page": 10,
        "include_fields": "url",
        "highlight_fields": "none",
    }
    result = cluster.multi_search(name, [search], {})[0]
    return [g["hits"][0]["document"]["url"] for g in result.get("grouped_hits", [])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="content folder of pages")
    parser.add_argument("--index", type=Path, default=Path("/tmp/quicksearch-bench/index"))
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--rebuild", action="store_true", help="rebuild both indexes")
    parser.add_argument(
        "--cluster",
        metavar="LOCATION",
        help="also the cluster engine at typesense://HOST:PORT,.../NAME (built when missing "
        "or with --rebuild) and raw Typesense on the same nodes, side by side",
    )
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

    db = sqlite3.connect(db_path)
    engines: dict[str, Callable[[str], list[str]]] = {}
    index = open_index(args.index)
    index.search("warm up")
    engines["quick"] = lambda q: [hit.url for hit in index.search(q, limit=10).hits]
    if args.cluster:
        from quicksearch import IndexNotFoundError

        try:
            clustered = None if args.rebuild else open_index(args.cluster)
        except IndexNotFoundError:
            clustered = None
        if clustered is None:
            report = build_index(args.corpus, args.cluster, force=True)
            print(f"cluster index: {report.documents:,} documents in {report.seconds:.1f} s")
            clustered = open_index(args.cluster)
        clustered.search("warm up")
        engines["cluster"] = lambda q: [hit.url for hit in clustered.search(q, limit=10).hits]
        cluster, raw_name, raw_seconds = build_raw_typesense(args.corpus, args.cluster)
        print(f"raw Typesense collection: built in {raw_seconds:.1f} s")
        engines["rawTS"] = lambda q: raw_typesense_search(cluster, raw_name, q)
    engines["FTS5"] = lambda q: fts5_search(db, q)

    results: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in engines}
    latency: dict[str, list[float]] = defaultdict(list)
    for q in queries:
        for name, search in engines.items():
            started = time.perf_counter()
            urls = search(q["query"])
            latency[name].append((time.perf_counter() - started) * 1000)
            results[name].setdefault(q["type"], []).append(metrics(urls, q["relevant"]))

    width = 9 * len(engines)
    print(f"\n{len(queries)} queries from {args.queries.name}, 10 results each")
    print(f"{'type':<9}{'n':>5}  " + "  ".join(f"{n:>{width}}" for n in NAMES))
    print(f"{'':<14}  " + "  ".join("".join(f"{e:>9}" for e in engines) for _ in NAMES))
    for qtype in sorted(results["quick"]):
        line = f"{qtype:<9}{len(results['quick'][qtype]):>5}  "
        for name in NAMES:
            line += "".join(
                f"{statistics.fmean(r[name] for r in results[e][qtype]):>9.3f}" for e in engines
            )
            line += "  "
        print(line)
    for engine, values in latency.items():
        print(latency_line(f"{engine:<12}", values))
    print("(quicksearch times, embedded and cluster, include snippets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
