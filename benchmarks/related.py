"""Related questions against the links editors chose, with two references in the same run.

Usage:
    python benchmarks/related.py --corpus /tmp/qt/content [--index DIR] [--sample 2000]
        [--seed 7] [--workdir DIR] [--cluster typesense://HOST:PORT,.../NAME]

For a fixed-seed sample of pages that carry editor links (``related_article1..5`` whose url is
in the index), asks each engine for the 10 pages most like the page and prints recall@5 and
recall@10 of the linked urls, the MRR of the first linked url, and latency p50/p95:

- quicksearch ``Searcher.related(url)`` (snippets included; with --cluster, on the cluster too);
- Whoosh's own ``more_like`` over a plain Whoosh index of the same text (question, keywords and
  answer in one stemmed field; built once in the work folder);
- bm25s with the page's question, keywords and answer as the query.

Only content is used; the links are the yardstick, never an input.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from eval_dev import inputs_present

from quicksearch import build_index, open_index
from quicksearch.documents import find_pages
from quicksearch.sources import OK, scan_task

K = 10


def links_of(path: str) -> list[str]:
    """The editor-linked urls in a page's front matter."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return []
    front = text.split("---", 2)[1]
    try:
        meta = yaml.load(front, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    urls = []
    for i in range(1, 6):
        item = meta.get(f"related_article{i}") if isinstance(meta, dict) else None
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            urls.append(item["url"])
    return urls


def read_pages(corpus: Path) -> tuple[dict[str, tuple[str, str, str]], dict[str, list[str]]]:
    tasks = [(str(p), str(p), 1_000_000, None) for p in find_pages(corpus)]
    pages: dict[str, tuple[str, str, str]] = {}
    links: dict[str, list[str]] = {}
    with ProcessPoolExecutor() as pool:
        scanned = list(pool.map(scan_task, tasks, chunksize=256))
        linked = list(pool.map(links_of, [t[0] for t in tasks], chunksize=256))
    for (record, doc), urls in zip(scanned, linked, strict=True):
        if record.status == OK and doc is not None and doc.url not in pages:
            pages[doc.url] = (doc.question, ", ".join(doc.keywords), doc.answer)
            links[doc.url] = urls
    return pages, links


def whoosh_reference(pages: dict[str, tuple[str, str, str]], folder: Path):  # type: ignore[no-untyped-def]
    from whoosh import fields, index
    from whoosh.analysis import StemmingAnalyzer

    if not index.exists_in(str(folder)):
        folder.mkdir(parents=True, exist_ok=True)
        schema = fields.Schema(
            url=fields.ID(stored=True, unique=True),
            content=fields.TEXT(analyzer=StemmingAnalyzer(), vector=True),
        )
        ix = index.create_in(str(folder), schema)
        with ix.writer(limitmb=512) as writer:
            for url, (question, keywords, answer) in pages.items():
                writer.add_document(url=url, content=f"{question}\n{keywords}\n{answer}")
    searcher = index.open_dir(str(folder)).searcher()

    def related(url: str) -> list[str]:
        docnum = searcher.document_number(url=url)
        hits = searcher.more_like(docnum, "content", top=K + 1)
        return [h["url"] for h in hits if h["url"] != url][:K]

    return related


def bm25s_reference(pages: dict[str, tuple[str, str, str]]):  # type: ignore[no-untyped-def]
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    urls = list(pages)
    texts = [" ".join(pages[u]) for u in urls]
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    position = {u: i for i, u in enumerate(urls)}

    def related(url: str) -> list[str]:
        tokens = bm25s.tokenize(
            [texts[position[url]]], stopwords="en", stemmer=stemmer, show_progress=False
        )
        results, _ = retriever.retrieve(tokens, k=K + 1, show_progress=False)
        return [urls[int(i)] for i in results[0] if urls[int(i)] != url][:K]

    return related


def sample_arguments(parser: argparse.ArgumentParser) -> None:
    """The corpus, index and sample options this script and related_ceiling.py share."""
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, default=Path("/tmp/quicksearch-bench/index"))
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)


def wanted(url: str, pages: dict[str, Any], links: dict[str, list[str]]) -> set[str]:
    """The page's editor links that point at other indexed pages."""
    return {x for x in links[url] if x in pages and x != url}


def linked_sample(
    args: argparse.Namespace, pages: dict[str, Any], links: dict[str, list[str]]
) -> list[str]:
    """Builds the index if missing; the fixed-seed sample of pages with links to others."""
    if not (args.index / "CURRENT").exists():
        build_index(args.corpus, args.index, force=True)
    linked = sorted(u for u in links if wanted(u, pages, links))
    sample = random.Random(args.seed).sample(linked, min(args.sample, len(linked)))
    print(f"{len(linked):,} pages carry links to indexed pages; sample {len(sample):,}")
    return sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sample_arguments(parser)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cluster", metavar="LOCATION", help="also the cluster engine there")
    args = parser.parse_args()
    if not inputs_present(corpus=args.corpus, queries=None):
        return 2
    workdir = args.workdir or Path(tempfile.gettempdir()) / "quicksearch-related"
    started = time.perf_counter()
    pages, links = read_pages(args.corpus)
    print(f"{len(pages):,} pages read in {time.perf_counter() - started:.1f} s")
    sample = linked_sample(args, pages, links)

    engines = {}
    index = open_index(args.index)
    index.warm()
    engines["quicksearch"] = lambda u: [h.url for h in index.related(u, limit=K)]
    if args.cluster:
        clustered = open_index(args.cluster)
        clustered.warm()
        engines["cluster"] = lambda u: [h.url for h in clustered.related(u, limit=K)]
    started = time.perf_counter()
    engines["Whoosh MLT"] = whoosh_reference(pages, workdir / "whoosh")
    print(f"Whoosh reference ready in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    engines["bm25s"] = bm25s_reference(pages)
    print(f"bm25s reference ready in {time.perf_counter() - started:.1f} s")

    print(f"\n{'engine':<14}{'recall@5':>10}{'recall@10':>11}{'MRR':>8}{'p50 ms':>9}{'p95 ms':>9}")
    for name, related in engines.items():
        r5, r10, rr, times = [], [], [], []
        for url in sample:
            linked = wanted(url, pages, links)
            t = time.perf_counter()
            got = related(url)
            times.append((time.perf_counter() - t) * 1000)
            r5.append(len(linked & set(got[:5])) / len(linked))
            r10.append(len(linked & set(got[:K])) / len(linked))
            first = next((i for i, u in enumerate(got[:K]) if u in linked), None)
            rr.append(0.0 if first is None else 1.0 / (first + 1))
        q = statistics.quantiles(times, n=100)
        print(
            f"{name:<14}{statistics.fmean(r5):>10.3f}{statistics.fmean(r10):>11.3f}"
            f"{statistics.fmean(rr):>8.3f}{q[49]:>9.1f}{q[94]:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
