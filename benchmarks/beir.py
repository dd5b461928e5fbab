"""quicksearch against bm25s on BEIR-layout test collections: nDCG@10 and MAP, same run.

Usage:
    pip install -e '.[bench]'
    python benchmarks/beir.py [COLLECTION_DIR ...]      # default: ../shared/beir/*

Each collection folder holds corpus.jsonl (_id, title, text), queries.jsonl (_id, text) and
qrels/test.tsv. Documents go through the public Document API (title -> question, text ->
answer; a document without a title gets its first words as question). The reference is bm25s
with k1 1.2, b 0.75, a Snowball stemmer and English stop words over title + text. Both retrieve
1,000 documents per query; nDCG@10 and MAP are computed by pytrec_eval (trec_eval's
definitions), averaged over every judged query (a query with no results counts as 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared/beir"
DEPTH = 1000
# trec_eval measure -> (key in pytrec_eval's results, column name)
MEASURES = {"ndcg_cut.10": ("ndcg_cut_10", "nDCG@10"), "map": ("map", "MAP")}


def load(folder: Path) -> tuple[dict[str, dict], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {}
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            corpus[str(row["_id"])] = row
    queries = {}
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels/test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, did, score = line.split("\t")[:3]
        qrels.setdefault(qid, {})[did] = int(score)
    queries = {q: t for q, t in queries.items() if q in qrels}
    return corpus, queries, qrels


def evaluate(qrels: dict, run: dict) -> dict[str, float]:
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, set(MEASURES))
    per_query = evaluator.evaluate({q: docs for q, docs in run.items() if docs})
    return {
        name: statistics.fmean(per_query.get(q, {}).get(key, 0.0) for q in qrels)
        for key, name in MEASURES.values()
    }


def run_quicksearch(corpus: dict, queries: dict, workdir: Path) -> tuple[dict, float, float]:
    from quicksearch import Document, build_index, open_index

    def question(row: dict) -> str:
        return (row.get("title") or "").strip() or " ".join(row["text"].split()[:12])

    docs = [
        Document(url=did, question=question(row), answer=row["text"] or question(row))
        for did, row in corpus.items()
    ]
    started = time.perf_counter()
    build_index(docs, workdir / "ix", force=True)
    built = time.perf_counter() - started
    run = {}
    started = time.perf_counter()
    with open_index(workdir / "ix") as index:
        for qid, text in queries.items():
            hits = index.search(text, limit=DEPTH, collapse_duplicates=False).hits
            run[qid] = {hit.url: float(len(hits) - rank) for rank, hit in enumerate(hits)}
    return run, built, time.perf_counter() - started


def run_bm25s(corpus: dict, queries: dict) -> tuple[dict, float, float]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = list(corpus)
    texts = [f"{corpus[d].get('title') or ''} {corpus[d]['text']}" for d in ids]
    started = time.perf_counter()
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    built = time.perf_counter() - started
    started = time.perf_counter()
    qids = list(queries)
    tokens = bm25s.tokenize(
        [queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    results, scores = retriever.retrieve(tokens, k=min(DEPTH, len(ids)), show_progress=False)
    run = {
        qid: {
            ids[int(doc)]: float(score)
            for doc, score in zip(results[i], scores[i], strict=True)
            if score > 0
        }
        for i, qid in enumerate(qids)
    }
    return run, built, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="*", type=Path)
    args = parser.parse_args()
    folders = args.collections or sorted(p for p in DEFAULT_ROOT.glob("*") if p.is_dir())
    if not folders:
        print(
            f"no collections given and none found in {DEFAULT_ROOT} (see ../shared/beir/)",
            file=sys.stderr,
        )
        return 2
    try:
        import bm25s  # noqa: F401
        import pytrec_eval  # noqa: F401
        import Stemmer  # noqa: F401
    except ImportError as exc:
        print(
            f"missing benchmark dependency ({exc.name}): pip install -e '.[bench]'", file=sys.stderr
        )
        return 2

    header = (
        f"{'collection':<12}{'docs':>7}{'queries':>8}   {'quicksearch':>21}   "
        f"{'bm25s':>21}   {'nDCG@10 ratio':>13}"
    )
    print(header)
    print(f"{'':<27}   {'nDCG@10':>10}{'MAP':>11}   {'nDCG@10':>10}{'MAP':>11}")
    for folder in folders:
        if not (folder / "corpus.jsonl").exists():
            print(f"{folder}: not a BEIR folder (no corpus.jsonl)", file=sys.stderr)
            continue
        corpus, queries, qrels = load(folder)
        with tempfile.TemporaryDirectory() as tmp:
            ours, our_build, our_query = run_quicksearch(corpus, queries, Path(tmp))
        ref, ref_build, ref_query = run_bm25s(corpus, queries)
        a, b = evaluate(qrels, ours), evaluate(qrels, ref)
        ratio = a["nDCG@10"] / b["nDCG@10"] if b["nDCG@10"] else float("nan")
        print(
            f"{folder.name:<12}{len(corpus):>7}{len(queries):>8}   "
            f"{a['nDCG@10']:>10.4f}{a['MAP']:>11.4f}   {b['nDCG@10']:>10.4f}{b['MAP']:>11.4f}   "
            f"{ratio:>13.3f}"
        )
        print(
            f"{'':<12}build s: quicksearch {our_build:.1f}, bm25s {ref_build:.1f}; "
            f"query s: quicksearch {our_query:.1f}, bm25s {ref_query:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
