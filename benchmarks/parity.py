"""Do the two engines give the same answers? Every query on the embedded index and on the
cluster, compared.

Usage:
    python benchmarks/parity.py --index DIR --cluster typesense://HOST:PORT,.../NAME
        [--queries FILE.jsonl] [--corpus DIR] [--worst 15] [--json FILE]

Both indexes must hold the same pages (build both from one corpus with the same code). Per
query type: how often rank 1 is the same page, the share of the embedded top 10 that the
cluster's top 10 also holds, how often the top 10 are identical (same pages, same order), the
largest score difference of a page both list, how often totals and subject facets differ, and
MRR@10 and S@10 of each engine (metrics as eval_dev.py computes them). Then latency: p50/p95
of each engine through the library (snippets included) and, with --corpus, of raw Typesense
on the same nodes as relevance.py configures it (built as ``NAME_raw`` when missing). Last,
the worst disagreements, each with its cause: a page the embedded engine ranks that the
cluster does not list (``missing page``; ``same question, another page`` when the cluster
lists another page asking that question with the same score, ``equal scores at the cut``
when it scores exactly as the cluster's last hit), the same pages scored differently
(``different statistics``), or a different total.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from eval_dev import inputs_present, metrics

from quicksearch import open_index

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
DEPTH = 10


def answer(searcher: Any, query: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    results = searcher.search(query, limit=DEPTH)
    ms = (time.perf_counter() - started) * 1000
    return {
        "urls": [hit.url for hit in results.hits],
        "titles": [hit.title for hit in results.hits],
        "scores": [hit.score for hit in results.hits],
        "total": results.total,
        "facets": dict(results.facets),
    }, ms


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """How the cluster's answer (``theirs``) differs from the embedded one (``ours``)."""
    a, b = ours["urls"], theirs["urls"]
    shared = set(a) & set(b)
    score_a = dict(zip(a, ours["scores"], strict=True))
    score_b = dict(zip(b, theirs["scores"], strict=True))
    diff = max((abs(score_a[u] - score_b[u]) for u in shared), default=0.0)
    missing = [u for u in a if u not in shared]
    lowest = min(theirs["scores"], default=0.0)
    title_a = dict(zip(a, ours["titles"], strict=True))
    questions_b = {
        (t, round(v, 4)) for t, v in zip(theirs["titles"], theirs["scores"], strict=True)
    }
    if a == b and ours["total"] == theirs["total"]:
        cause = ""
    elif missing and all(
        (title_a[u], round(score_a[u], 4)) in questions_b for u in missing
    ):
        # Pages asking the same question count once, as the first of them: which one is first
        # follows the page numbers (by url on the cluster, by build order on a folder).
        cause = "same question, another page"
    elif missing and all(abs(score_a[u] - lowest) <= 1e-4 for u in missing):
        # The page the cluster left out scores as its last: equal scores at the cut, ordered
        # by page number, which follows the url on the cluster and the build on a folder.
        cause = "equal scores at the cut"
    elif missing:
        cause = "missing page"
    elif diff > 1e-4:
        cause = "different statistics"
    elif ours["total"] != theirs["total"]:
        cause = "different total"
    else:
        cause = "different order of equal scores"
    return {
        "rank1": (a[:1] == b[:1]),
        "overlap": len(shared) / len(a) if a else 1.0,
        "identical": a == b,
        "score_diff": diff,
        "total_differs": ours["total"] != theirs["total"],
        "facets_differ": ours["facets"] != theirs["facets"],
        "missing": missing,
        "cause": cause,
    }


def raw_typesense(corpus: Path, location: str) -> Any:
    """A search function over raw Typesense (relevance.py's configuration)."""
    from relevance import build_raw_typesense, raw_typesense_search

    from quicksearch.engines.typesense.client import Cluster
    from quicksearch.location import parse_location

    parsed = parse_location(location)
    cluster = Cluster(parsed)  # type: ignore[arg-type]
    name = f"{parsed.collection}_raw"  # type: ignore[union-attr]
    if not any(c.get("name") == name for c in cluster.collections()):
        cluster, name, seconds = build_raw_typesense(corpus, location)
        print(f"raw Typesense collection built in {seconds:.1f} s")
    return lambda q: raw_typesense_search(cluster, name, q)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="embedded index folder")
    parser.add_argument("--cluster", required=True, help="typesense://HOST:PORT,.../NAME")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--corpus", type=Path, help="also time raw Typesense (built if missing)")
    parser.add_argument("--worst", type=int, default=15, help="disagreements to list")
    parser.add_argument("--json", type=Path, help="also write every comparison here")
    args = parser.parse_args()
    if not inputs_present(queries=args.queries, corpus=args.corpus):
        return 2
    queries = [json.loads(x) for x in args.queries.read_text().splitlines() if x.strip()]
    embedded, clustered = open_index(args.index), open_index(args.cluster)
    for searcher in (embedded, clustered):
        searcher.warm()
        searcher.search("warm up")
    raw = raw_typesense(args.corpus, args.cluster) if args.corpus else None

    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    latency: dict[str, list[float]] = defaultdict(list)
    for q in queries:
        ours, ms_ours = answer(embedded, q["query"])
        theirs, ms_theirs = answer(clustered, q["query"])
        latency["embedded"].append(ms_ours)
        latency["cluster"].append(ms_theirs)
        if raw is not None:
            started = time.perf_counter()
            raw(q["query"])
            latency["raw Typesense"].append((time.perf_counter() - started) * 1000)
        row = compare(ours, theirs)
        row.update(
            query=q["query"],
            type=q["type"],
            embedded=metrics(ours["urls"], q["relevant"]),
            cluster=metrics(theirs["urls"], q["relevant"]),
            totals=(ours["total"], theirs["total"]),
        )
        rows[q["type"]].append(row)

    print(f"{sum(map(len, rows.values()))} queries from {args.queries.name}, top {DEPTH} compared")
    head = (
        f"{'type':<9}{'n':>5}{'rank-1 same':>13}{'top-10 overlap':>16}{'identical':>11}"
        f"{'max score diff':>16}{'totals differ':>15}{'facets differ':>15}"
        f"{'MRR emb':>9}{'MRR clu':>9}{'S@10 emb':>10}{'S@10 clu':>10}"
    )
    print(head)
    for qtype in sorted(rows):
        r = rows[qtype]
        mean = statistics.fmean
        print(
            f"{qtype:<9}{len(r):>5}{mean(x['rank1'] for x in r):>13.1%}"
            f"{mean(x['overlap'] for x in r):>16.1%}{mean(x['identical'] for x in r):>11.1%}"
            f"{max(x['score_diff'] for x in r):>16.4f}"
            f"{mean(x['total_differs'] for x in r):>15.1%}"
            f"{mean(x['facets_differ'] for x in r):>15.1%}"
            f"{mean(x['embedded']['MRR@10'] for x in r):>9.3f}"
            f"{mean(x['cluster']['MRR@10'] for x in r):>9.3f}"
            f"{mean(x['embedded']['S@10'] for x in r):>10.3f}"
            f"{mean(x['cluster']['S@10'] for x in r):>10.3f}"
        )
    print()
    cuts = {name: statistics.quantiles(v, n=100) for name, v in latency.items()}
    for name, c in cuts.items():
        print(f"{name:<14} latency ms: p50 {c[49]:6.1f}  p95 {c[94]:6.1f}  p99 {c[98]:6.1f}")
    print(
        f"cluster / embedded: p50 {cuts['cluster'][49] / cuts['embedded'][49]:.1f}x, "
        f"p95 {cuts['cluster'][94] / cuts['embedded'][94]:.1f}x"
        + (
            f"; cluster / raw Typesense p95 {cuts['cluster'][94] / cuts['raw Typesense'][94]:.2f}"
            if "raw Typesense" in cuts
            else ""
        )
    )

    every = [x for r in rows.values() for x in r]
    causes: dict[str, int] = defaultdict(int)
    for x in every:
        if x["cause"]:
            causes[x["cause"]] += 1
    print("\ncauses of disagreement:", dict(causes) or "none")
    worst = sorted(every, key=lambda x: (x["rank1"], x["overlap"], -x["score_diff"]))
    print(f"worst {args.worst}:")
    for x in worst[: args.worst]:
        if not x["cause"]:
            break
        print(
            f"  [{x['type']}] {x['query']!r}: {x['cause']}; overlap {x['overlap']:.0%}, "
            f"totals {x['totals'][0]} vs {x['totals'][1]}, missing {x['missing'][:3]}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
