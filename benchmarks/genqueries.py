"""Training queries generated from the corpus, for tuning without touching ../shared/eval.

Usage:
    python benchmarks/genqueries.py --corpus /tmp/qt/content --out /tmp/train.jsonl
        [--pages 600] [--seed 7]

The recipe, written from the description of the dev set's query types (not from its files):
for each of ``--pages`` random indexable pages,

- ``short``: 2-4 words of the page's question that are not stop words, in their order in the
  question; each flips its plural ``s`` (adds or drops it) with probability 0.15;
- ``typo``: the short query with one word (of 4+ letters) mistyped once: two neighbouring
  letters swapped, one dropped, or one replaced by a random letter;
- ``prefix``: the short query with its last word cut to 3-5 letters (if longer);
- ``natural``: the first sentence of the page's answer (8-40 words), a stand-in for a
  visitor's one-sentence description.

Relevance: the page and every page asking the very same question (grade 2). Same JSONL layout
as the dev set, so `eval_dev.py --queries` reads it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from collections import defaultdict
from pathlib import Path

from quicksearch.analysis import STOP_WORDS
from quicksearch.documents import find_pages, load_page
from quicksearch.fields import question_key

WORD = re.compile(r"\w+(?:['’]\w+)*")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def flip_plural(word: str) -> str:
    if word.endswith("ss") or len(word) < 4:
        return word
    return word[:-1] if word.endswith("s") else word + "s"


def mistype(word: str, rng: random.Random) -> str:
    kind = rng.choice(["swap", "drop", "replace"])
    i = rng.randrange(1, len(word) - 1) if len(word) > 2 else 0
    if kind == "swap" and i + 1 < len(word) and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    letter = rng.choice([c for c in string.ascii_lowercase if c != word[i]])
    return word[:i] + letter + word[i + 1 :]


def make_queries(question: str, answer: str, rng: random.Random) -> dict[str, str] | None:
    words = [w.lower() for w in WORD.findall(question)]
    content = [w for w in words if w not in STOP_WORDS and not w.isdigit() and len(w) > 2]
    content = list(dict.fromkeys(content))
    if len(content) < 2:
        return None
    k = rng.randint(2, min(4, len(content)))
    picked = [content[i] for i in sorted(rng.sample(range(len(content)), k))]
    short = [flip_plural(w) if rng.random() < 0.15 else w for w in picked]
    long_enough = [i for i, w in enumerate(short) if len(w) >= 4]
    if not long_enough:
        return None
    typo = list(short)
    at = rng.choice(long_enough)
    typo[at] = mistype(typo[at], rng)
    prefix = list(short)
    cut = rng.randint(3, 5)
    if len(prefix[-1]) > cut:
        prefix[-1] = prefix[-1][:cut]
    queries = {"short": " ".join(short), "typo": " ".join(typo), "prefix": " ".join(prefix)}
    for sentence in SENTENCE.split(answer.strip()):
        if 8 <= len(sentence.split()) <= 40:
            queries["natural"] = sentence
            break
    return queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"corpus folder not found: {args.corpus}", file=sys.stderr)
        return 2
    docs = []
    for path in find_pages(args.corpus):
        try:
            doc = load_page(path)
        except Exception:  # a page quicksearch would skip: not a query target either
            continue
        if not doc.no_index and doc.question and doc.url:
            docs.append(doc)
    by_url = {d.url: d for d in docs}  # url is the key; a later page replaces an earlier one
    docs = list(by_url.values())
    same_question: dict[str, list[str]] = defaultdict(list)
    for doc in docs:
        same_question[question_key(doc.question)].append(doc.url)
    rng = random.Random(args.seed)
    rng.shuffle(docs)
    written = 0
    with args.out.open("w", encoding="utf-8") as out:
        for doc in docs:
            if written >= args.pages:
                break
            queries = make_queries(doc.question, doc.answer, rng)
            if queries is None:
                continue
            relevant = {u: 2 for u in same_question[question_key(doc.question)]}
            for kind, text in queries.items():
                line = {
                    "qid": f"g{args.seed}-{written}-{kind}",
                    "type": kind,
                    "query": text,
                    "target": doc.url,
                    "relevant": relevant,
                }
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
    print(f"{written} pages, {written * 4} queries (fewer natural) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
