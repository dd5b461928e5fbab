"""Quick relevance and latency check of a quicksearch index on a query file (JSONL).

Usage:
    python benchmarks/eval_dev.py --index /tmp/qt-index [--queries FILE.jsonl]

Each line: {"qid", "type", "query", "target", "relevant": {url: grade}}; metrics as defined in
../shared/eval/README.md (MRR@10 and S@1/S@10 on grade-2 pages, nDCG@10 on all grades). Prints one
row per query type plus search latency (snippets included). Build the index first with
`quicksearch index <corpus> --index DIR`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from quicksearch import open_index

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"


def metrics(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    first = next((i for i, url in enumerate(ranked[:10], 1) if relevant.get(url, 0) >= 2), None)
    dcg = sum(relevant.get(url, 0) / math.log2(i + 1) for i, url in enumerate(ranked[:10], 1))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    return {
        "MRR@10": 1 / first if first else 0.0,
        "S@1": 1.0 if first == 1 else 0.0,
        "S@10": 1.0 if first else 0.0,
        "nDCG@10": dcg / idcg if idcg else 0.0,
    }


def inputs_present(*, queries: Path | None, corpus: Path | None = None) -> bool:
    """Say on stderr which input from ../shared is missing; True when all are there."""
    if corpus is not None and not corpus.is_dir():
        print(f"corpus folder not found: {corpus} (unpack ../shared/corpus first)", file=sys.stderr)
        return False
    if queries is not None and not queries.exists():
        print(f"query file not found: {queries} (see ../shared/eval/)", file=sys.stderr)
        return False
    return True


def latency_line(label: str, values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100)
    return (
        f"{label} latency ms over {len(values)} queries: p50 {cuts[49]:.1f}  "
        f"p95 {cuts[94]:.1f}  p99 {cuts[98]:.1f}  max {max(values):.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="index folder built from the corpus")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    args = parser.parse_args()
    if not inputs_present(queries=args.queries):
        return 2
    queries = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    by_type: dict[str, list[dict[str, float]]] = defaultdict(list)
    latencies: list[float] = []
    with open_index(args.index) as index:
        index.search("warm up")
        for q in queries:
            started = time.perf_counter()
            hits = index.search(q["query"], limit=10).hits
            latencies.append((time.perf_counter() - started) * 1000)
            by_type[q["type"]].append(metrics([h.url for h in hits], q["relevant"]))
    names = ["MRR@10", "S@1", "S@10", "nDCG@10"]
    print(f"{'type':<10}{'n':>6}" + "".join(f"{n:>10}" for n in names))
    for qtype, rows in sorted(by_type.items()):
        means = [statistics.fmean(r[n] for r in rows) for n in names]
        print(f"{qtype:<10}{len(rows):>6}" + "".join(f"{m:>10.3f}" for m in means))
    print(latency_line("quicksearch", latencies))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
