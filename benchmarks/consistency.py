"""Do a query's results depend on the window, and do its counts add up? Over a query file.

For every query: the total, its exactness and the facets for limits 1, 10, 30 and 100; pages 1-3
of 10 against one page of 30; the first 10 hits of limit 10 against those of limit 100. Then,
for queries with exact counts: every facet's subject, chosen, gives the facet's count; and the
facets add up to the total plus the questions counted in a second (third, ...) subject,
enumerated with duplicates shown (queries with more pages than one window of 1,000 skipped).

    python benchmarks/consistency.py --index /tmp/qs1x [--queries FILE.jsonl] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

from quicksearch import Searcher, open_index

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"


def windows(ix: Searcher, q: str) -> list[str]:
    """What differs between windows of ``q``'s results (empty: nothing)."""
    found = []
    by_limit = {limit: ix.search(q, limit=limit) for limit in (1, 10, 30, 100)}
    if len({r.total for r in by_limit.values()}) > 1:
        found.append("total")
    if len({r.total_is_exact for r in by_limit.values()}) > 1:
        found.append("exactness")
    if len({json.dumps(r.facets, sort_keys=True) for r in by_limit.values()}) > 1:
        found.append("facets")
    paged = [h.url for page in (1, 2, 3) for h in ix.search(q, limit=10, page=page).hits]
    if paged != [h.url for h in by_limit[30].hits]:
        found.append("pages")
    if [h.url for h in by_limit[10].hits] != [h.url for h in by_limit[100].hits[:10]]:
        found.append("top 10")
    return found


def counts(ix: Searcher, q: str) -> tuple[list[str], bool]:
    """What does not add up for ``q`` (empty: nothing), and whether the sum could be checked."""
    results = ix.search(q, limit=10)
    if not results.total_is_exact:
        return [], False
    found = [
        f"facet {subject}"
        for subject, count in results.facets.items()
        if ix.search(q, limit=10, subject=subject).total != count
    ]
    every = ix.search(q, limit=1000, collapse_duplicates=False)
    if every.total > len(every.hits):
        return found, False
    held: dict[str, set[str]] = defaultdict(set)
    for hit in every.hits:
        held[" ".join(re.findall(r"\w+", hit.title.casefold()))].add(hit.subject)
    extra = sum(len(subjects) - 1 for subjects in held.values())
    if results.total != len(held) or sum(results.facets.values()) != results.total + extra:
        found.append("sum")
    return found, True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries")
    args = parser.parse_args()
    queries = [json.loads(line) for line in args.queries.read_text("utf-8").splitlines()]
    if args.limit:
        queries = queries[: args.limit]
    window_diffs: dict[str, int] = defaultdict(int)
    count_diffs: dict[str, int] = defaultdict(int)
    summed = 0
    examples: list[tuple[str, list[str]]] = []
    with open_index(args.index) as ix:
        for q in queries:
            found = windows(ix, q["query"])
            wrong, checked = counts(ix, q["query"])
            summed += checked
            for what in found:
                window_diffs[what] += 1
            for what in wrong:
                count_diffs["sum" if what == "sum" else "facet"] += 1
            if found or wrong:
                examples.append((q["query"], found + wrong))
    print(f"{len(queries)} queries; window differences: {dict(window_diffs) or 'none'}")
    print(f"count differences: {dict(count_diffs) or 'none'} ({summed} sums checked)")
    for query, what in examples[:10]:
        print(f"  {query!r}: {', '.join(what)}")
    return 1 if examples else 0


if __name__ == "__main__":
    raise SystemExit(main())
