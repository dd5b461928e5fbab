"""Snippet quality and speed on real queries (issue: snippets worth reading).

Usage:
    python benchmarks/snippets.py --index /tmp/qt-index [--queries FILE.jsonl] [--n 300]

For the top 5 hits of the first N short queries: share of snippets with a mark, share marking a
query word or an inflection of it, residue (unescaped markup other than <mark>, markdown, LaTeX,
literal \\n), and length outside 40-400 characters. Then the time to make the snippets of a page
of 10 hits (the snippet step alone), p50/p95/max.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import statistics
import sys
import time
from pathlib import Path

from quicksearch import open_index
from quicksearch.analysis import terms
from quicksearch.snippets import highlight, make_snippet

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
RESIDUE = {
    "unescaped markup": re.compile(r"<(?!/?mark>)|(?<!mark)>"),
    "markdown": re.compile(r"\*\*|__|```|^#{1,6} |\[[^\]]+\]\([^)]*\)|(?<!\w)\*\w[^*]*\*"),
    "latex": re.compile(r"\\[a-zA-Z]{2,}|\$\$|\\[()\[\]]"),
    "literal \\n": re.compile(r"\\n"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--show", type=int, default=5, help="examples of each failure to print")
    args = parser.parse_args()
    if not args.queries.exists():
        print(f"query file not found: {args.queries} (see ../shared/eval/)", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in args.queries.read_text().splitlines() if line.strip()]
    queries = [r["query"] for r in rows if r["type"] == "short"][: args.n]

    counts = {"snippets": 0, "marked": 0, "marks query word": 0, "bad length": 0}
    counts.update({name: 0 for name in RESIDUE})
    failures: dict[str, list[str]] = {}
    page_ms: list[float] = []
    with open_index(args.index) as index:
        for query in queries:
            results = index.search(query, limit=10)
            wanted = set(terms(query))
            for hit in results.hits[:5]:
                counts["snippets"] += 1
                snippet = hit.snippet
                marked = re.findall(r"<mark>(.*?)</mark>", snippet)
                problems = []
                if marked:
                    counts["marked"] += 1
                else:
                    problems.append("no mark")
                if any(set(terms(html.unescape(m))) & wanted for m in marked):
                    counts["marks query word"] += 1
                for name, pattern in RESIDUE.items():
                    if pattern.search(snippet):
                        counts[name] += 1
                        problems.append(name)
                if not 40 <= len(hit.snippet_text) <= 400:
                    counts["bad length"] += 1
                    problems.append("bad length")
                for problem in problems:
                    failures.setdefault(problem, []).append(f"{query!r} {hit.url}\n      {snippet}")
            # The snippet step alone, for a page of 10 hits, from the stored answers.
            answers = [
                index._engine.searcher.stored_fields(n)["answer"] for n in _docnums(index, results)
            ]
            started = time.perf_counter()
            for answer in answers:
                make_snippet(answer, wanted)
            for hit in results.hits:
                highlight(hit.title, wanted)
            page_ms.append((time.perf_counter() - started) * 1000)

    total = counts["snippets"]
    print(f"{len(queries)} short queries, {total} snippets (top 5 hits each)")
    for name, value in counts.items():
        if name != "snippets":
            print(f"  {name:<20} {value:>5}  {value / total:7.1%}")
    cuts = statistics.quantiles(page_ms, n=100)
    print(
        f"snippets for a page of 10 hits: p50 {cuts[49]:.2f} ms  p95 {cuts[94]:.2f} ms  "
        f"max {max(page_ms):.2f} ms"
    )
    for problem, examples in failures.items():
        print(f"\n{problem}: {len(examples)}")
        for example in examples[: args.show]:
            print("   ", example)
    return 0


def _docnums(index, results):  # type: ignore[no-untyped-def]
    searcher = index._engine.searcher
    return [searcher.document_number(url=hit.url) for hit in results.hits]


if __name__ == "__main__":
    raise SystemExit(main())
