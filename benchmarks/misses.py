"""Why the target page is not first: the dev queries that miss, grouped by cause.

Usage:
    python benchmarks/misses.py --index DIR [--queries FILE] [--examples 3]

For every query whose first grade-2 page is not at rank 1, names one cause (the first that
applies, in this order) and prints counts per query type with a few examples each:

- ``not in top 10``: no grade-2 page in the first ten;
- ``word not in target question``: a query word (any of its forms: correction, completion,
  synonym) is missing from the target's question, so a page holding it there wins;
- ``wrong completion`` / ``wrong correction``: the first page's question holds the query word
  only in a form (a completion, a correction) that the target's question lacks, and the target's
  question holds another of its forms;
- ``shorter question won``: the first page's question holds every query word too and is shorter;
- ``another question holds every word too``: as long or longer (the query fits several pages);
- ``keywords or answer outweighed``: the first page lacks some query word in its question.
In a typo query the last word is also completed (it may be unfinished), so its misses can show
as ``wrong completion``.

It reads the dev set only to explain misses; nothing here tunes anything.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from eval_dev import inputs_present

from quicksearch import open_index
from quicksearch.analysis import stem
from quicksearch.expansion import expand_word
from quicksearch.fields import kept_words
from quicksearch.query import parse_query

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"


def stems(text: str) -> set[str]:
    return {stem(w) for w in kept_words(text)}


def cause(index, q: dict, hits: list) -> str:  # type: ignore[no-untyped-def,type-arg]
    targets = {u for u, grade in q["relevant"].items() if grade == 2}
    urls = [h.url for h in hits]
    if not targets & set(urls):
        return "not in top 10"
    target_question = stems(index._engine.page(q["target"])["question"])
    first = stems(hits[0].title)
    parsed = parse_query(q["query"])
    vocabulary = index._engine.vocabulary
    forms = [
        expand_word(t, w, vocabulary, is_prefix=w == parsed.prefix)
        for t, w in zip(parsed.terms, parsed.words, strict=True)
    ]
    for expansion in forms:
        variants = [v for v, _ in expansion.variants]
        if not set(variants) & target_question:
            return "word not in target question"
    for word, expansion in zip(parsed.words, forms, strict=True):
        variants = {v for v, _ in expansion.variants}
        theirs, ours = variants & first, variants & target_question
        if theirs and ours and theirs.isdisjoint(ours):  # the first page won by another form
            return "wrong completion" if word == parsed.prefix else "wrong correction"
    if all(set(v for v, _ in e.variants) & first for e in forms):
        if len(first) < len(target_question):
            return "shorter question won"
        return "another question holds every word too"
    return "keywords or answer outweighed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    if not inputs_present(queries=args.queries):
        return 2
    queries = [json.loads(x) for x in args.queries.read_text().splitlines() if x.strip()]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    totals: Counter[str] = Counter()
    with open_index(args.index) as index:
        for q in queries:
            totals[q["type"]] += 1
            hits = index.search(q["query"]).hits
            if hits and q["relevant"].get(hits[0].url) == 2:
                continue
            why = cause(index, q, hits)
            counts[q["type"]][why] += 1
            if len(examples[(q["type"], why)]) < args.examples:
                first = hits[0].title if hits else "-"
                examples[(q["type"], why)].append(f"{q['query']!r} -> first: {first[:70]!r}")
    for qtype in sorted(totals):
        missed = sum(counts[qtype].values())
        print(f"\n{qtype}: {missed} of {totals[qtype]} queries miss rank 1")
        for why, n in counts[qtype].most_common():
            print(f"  {n:>4}  {why}")
            for line in examples[(qtype, why)]:
                print(f"          {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
