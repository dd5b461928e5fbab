"""How many editor links any ranking by content can reach: where the linked pages stand.

Usage:
    python benchmarks/related_ceiling.py --corpus /tmp/qt/content [--index DIR]
        [--sample 2000] [--seed 7]

For the same fixed-seed sample as ``related.py`` (pages whose editor links point at indexed
pages), prints:

- the rank of each linked page among all pages by plain content similarity (tf-idf cosine of
  question twice, keywords and answer, stemmed as the index does), as the share of links within
  the first 10, 50, 100, 500, 1,000 and 5,000 pages: a link ranked past 100 by every content
  measure is out of reach of a "more like this" list;
- quicksearch's recall of the links at 10, 50 and 100 results (``Searcher.related``): what a
  perfect re-ordering of its candidates could reach at 10.

Only content is used to rank; the links are the yardstick, never an input.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
import scipy.sparse as sp
from eval_dev import inputs_present
from related import linked_sample, read_pages, sample_arguments, wanted

from quicksearch import open_index
from quicksearch.analysis import stem
from quicksearch.fields import kept_words

CUTS = (10, 50, 100, 500, 1_000, 5_000)


def tfidf_rows(texts: list[list[str]]) -> sp.csr_matrix:
    """Unit-length tf-idf rows (1 + log tf) of the stemmed ``texts``."""
    vocabulary: dict[str, int] = {}
    rows, cols, values = [], [], []
    for i, words in enumerate(texts):
        counts: dict[int, int] = {}
        for word in words:
            j = vocabulary.setdefault(word, len(vocabulary))
            counts[j] = counts.get(j, 0) + 1
        rows += [i] * len(counts)
        cols += list(counts)
        values += [1.0 + np.log(c) for c in counts.values()]
    matrix = sp.csr_matrix(
        (np.array(values, dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocabulary))
    )
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    matrix = matrix @ sp.diags(np.log((len(texts) + 1) / (df + 1)).astype(np.float32) + 1)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-9)) @ matrix)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sample_arguments(parser)
    args = parser.parse_args()
    if not inputs_present(corpus=args.corpus, queries=None):
        return 2
    pages, links = read_pages(args.corpus)
    sample = linked_sample(args, pages, links)
    urls = list(pages)
    position = {u: i for i, u in enumerate(urls)}

    def words(url: str) -> list[str]:
        question, keywords, answer = pages[url]
        return [stem(w) for w in kept_words(f"{question} {question} {keywords} {answer}")]

    matrix = tfidf_rows([words(u) for u in urls])
    ranks: list[int] = []
    for start in range(0, len(sample), 250):
        chunk = sample[start : start + 250]
        scores = (matrix[[position[u] for u in chunk]] @ matrix.T).toarray()
        for row, url in zip(scores, chunk, strict=True):
            row[position[url]] = -np.inf
            for link in wanted(url, pages, links):
                ranks.append(int(np.count_nonzero(row > row[position[link]])))
    ranked = np.array(ranks)
    print(f"{len(sample):,} pages, {len(ranked):,} links to indexed pages")
    print("links within the first N pages by tf-idf content similarity:")
    for cut in CUTS:
        print(f"  {cut:>6,}: {np.mean(ranked < cut):.3f}")
    print(f"  median rank: {int(np.median(ranked)) + 1:,}")

    index = open_index(args.index)
    index.warm()
    recall: dict[int, list[float]] = {10: [], 50: [], 100: []}
    for url in sample:
        linked = wanted(url, pages, links)
        got = [h.url for h in index.related(url, limit=100)]
        for cut, values in recall.items():
            values.append(len(linked & set(got[:cut])) / len(linked))
    print(
        "quicksearch related(): recall of the links at "
        + ", ".join(f"{cut} {statistics.fmean(values):.3f}" for cut, values in recall.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
