"""How query cost, build time and memory grow with the corpus, beside tantivy-py.

Usage:
    python benchmarks/scale.py --corpus /tmp/qt/content [--sizes 1,2,4,8] [--workdir DIR]
                               [--queries FILE] [--no-tantivy] [--json OUT]

For each size k it writes a k× corpus (copy 1 is the real page, hard-linked; copy j ≥ 2 gets
the url suffix ``-part-j`` and the question suffix `` (part j)``, so it is a distinct page that
duplicate-question collapsing does not hide), then measures in this one run:

- quicksearch: full build (wall, pages/s, peak RSS of the largest build process and of all of
  them together), index size, and in a fresh process holding one open ``Searcher`` (warmed as a
  server warms it): query p50/p95/p99/max over the query file (limit 10, snippets included),
  and that process's RSS after all queries;
- tantivy-py (``bench`` extra), the reference engine: build from the same parsed pages (parsing
  on every core, then tantivy's own writer threads), and query latency for an OR query over
  question^3 / keywords^2 / answer (English stemming), with an answer snippet for each hit.

Prints one table, and the ratios the scale issue asks about. Corpora and indexes stay in
``--workdir`` (default /tmp/qs-scale) for the next run; this machine is noisy, so compare the
ratios of one run rather than figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from eval_dev import inputs_present
from perf import EXE, index_stats, run

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
_QUESTION_BLOCK = re.compile(r"^question: >-\n(?:[ \t]+.*\n)+", re.MULTILINE)
_URL_LINE = re.compile(r"^url: (.*)$", re.MULTILINE)

SEARCHER_PROBE = """
import json, sys, time
import quicksearch
queries = [json.loads(x)["query"] for x in open(sys.argv[2]) if x.strip()]
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
times = []
with quicksearch.open_index(sys.argv[1]) as index:
    index.warm()
    for q in queries:
        started = time.perf_counter()
        index.search(q, limit=10)
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"times": times, "rss_mib": rss()}))
"""

TANTIVY_BUILD = """
import json, os, sys, multiprocessing, time
import tantivy
from quicksearch.documents import load_page, page_files

def parse(path):
    try:
        doc = load_page(path)
    except Exception:
        return None
    if doc.no_index:
        return None
    return (doc.url, doc.question, " ".join(doc.keywords), doc.answer)

corpus, index_dir = sys.argv[1], sys.argv[2]
builder = tantivy.SchemaBuilder()
builder.add_text_field("url", stored=True, tokenizer_name="raw")
for name in ("question", "keywords", "answer"):
    builder.add_text_field(name, stored=True, tokenizer_name="en_stem")
schema = builder.build()
index = tantivy.Index(schema, path=index_dir)
writer = index.writer(heap_size=400_000_000, num_threads=os.cpu_count() or 1)
paths = [p for p, _ in page_files(corpus)]
count = 0
with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
    for row in pool.imap(parse, paths, chunksize=256):
        if row is None:
            continue
        url, question, keywords, answer = row
        writer.add_document(
            tantivy.Document(url=url, question=question, keywords=keywords, answer=answer)
        )
        count += 1
writer.commit()
writer.wait_merging_threads()
print(count)
"""

TANTIVY_PROBE = """
import json, re, sys, time
import tantivy
queries = [json.loads(x)["query"] for x in open(sys.argv[2]) if x.strip()]
index = tantivy.Index.open(sys.argv[1])
index.reload()
searcher = index.searcher()
schema = index.schema
fields = ["question", "keywords", "answer"]
boosts = {"question": 3.0, "keywords": 2.0, "answer": 1.0}
times = []
for q in ["warm up"] + queries:
    words = re.findall(r"\\w+", q.lower())
    started = time.perf_counter()
    if words:
        query = index.parse_query(" ".join(words), fields, field_boosts=boosts)
        hits = searcher.search(query, 10).hits
        snippets = tantivy.SnippetGenerator.create(searcher, query, schema, "answer")
        for _, address in hits:
            doc = searcher.doc(address)
            snippets.snippet_from_doc(doc).to_html()
            doc["url"]
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps({"times": times[1:]}))
"""


def make_corpus(source: Path, dest: Path, copies: int) -> int:
    """Write (once) a corpus of ``copies`` copies of ``source``; return its page count."""
    done = dest / ".complete"
    if done.exists():
        return int(done.read_text())
    shutil.rmtree(dest, ignore_errors=True)
    pages = sorted(source.rglob("*.md"))
    for copy in range(1, copies + 1):
        root = dest / f"part-{copy}"
        for page in pages:
            target = root / page.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if copy == 1:
                os.link(page, target)
                continue
            text = page.read_text(encoding="utf-8")
            text = _URL_LINE.sub(lambda m, c=copy: f"url: {m.group(1)}-part-{c}", text, count=1)
            text = _QUESTION_BLOCK.sub(
                lambda m, c=copy: m.group(0)[:-1] + f" (part {c})\n", text, count=1
            )
            target.write_text(text, encoding="utf-8")
    done.write_text(str(len(pages) * copies))
    return len(pages) * copies


def quantiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100)
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}


def probe(script: str, index: Path, queries: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", script, str(index), str(queries)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def directory_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def measure(size: int, args: argparse.Namespace) -> dict[str, object]:
    corpus = args.workdir / f"corpus-{size}x"
    pages = make_corpus(args.corpus, corpus, size)
    index = args.workdir / f"index-{size}x"
    shutil.rmtree(index, ignore_errors=True)
    build_s, build_rss, build_tree = run(
        [EXE, "index", str(corpus), "--index", str(index), "--full", "--force", "--quiet"]
    )
    stats = index_stats(index)
    probed = probe(SEARCHER_PROBE, index, args.queries)
    row: dict[str, object] = {
        "size": size,
        "pages": pages,
        "documents": stats["documents"],
        "build_seconds": round(build_s, 1),
        "pages_per_second": round(stats["documents"] / build_s),
        "build_peak_rss_mib": build_rss,
        "build_peak_rss_all_mib": build_tree,
        "index_mib": round(stats["size_bytes"] / 2**20, 1),
        "query_ms": {k: round(v, 2) for k, v in quantiles(probed["times"]).items()},  # type: ignore[arg-type]
        "searcher_rss_mib": round(probed["rss_mib"]),  # type: ignore[arg-type]
    }
    if args.tantivy:
        tantivy_dir = args.workdir / f"tantivy-{size}x"
        shutil.rmtree(tantivy_dir, ignore_errors=True)
        tantivy_dir.mkdir(parents=True)
        t_build, _, t_tree = run(
            [sys.executable, "-c", TANTIVY_BUILD, str(corpus), str(tantivy_dir)]
        )
        t_probed = probe(TANTIVY_PROBE, tantivy_dir, args.queries)
        row["tantivy"] = {
            "build_seconds": round(t_build, 1),
            "build_peak_rss_all_mib": t_tree,
            "index_mib": round(directory_mib(tantivy_dir), 1),
            "query_ms": {k: round(v, 2) for k, v in quantiles(t_probed["times"]).items()},  # type: ignore[arg-type]
        }
    if not args.keep:
        shutil.rmtree(index, ignore_errors=True)
        shutil.rmtree(args.workdir / f"tantivy-{size}x", ignore_errors=True)
    print_row(row)
    return row


def print_row(row: dict[str, object]) -> None:
    q = row["query_ms"]
    assert isinstance(q, dict)
    print(
        f"{row['size']:>3}x {row['documents']:>8,} pages | quicksearch build "
        f"{row['build_seconds']:>6.1f} s "
        f"({row['pages_per_second']:,}/s, RSS largest {row['build_peak_rss_mib']} / all "
        f"{row['build_peak_rss_all_mib']} MiB), index {row['index_mib']} MiB | query p50 "
        f"{q['p50']:.1f} p95 {q['p95']:.1f} p99 {q['p99']:.1f} max {q['max']:.1f} ms | "
        f"Searcher RSS {row['searcher_rss_mib']} MiB",
        flush=True,
    )
    t = row.get("tantivy")
    if isinstance(t, dict):
        tq = t["query_ms"]
        print(
            f"     tantivy-py build {t['build_seconds']:>6.1f} s "
            f"(RSS all {t['build_peak_rss_all_mib']} "
            f"MiB), index {t['index_mib']} MiB | query p50 {tq['p50']:.1f} p95 {tq['p95']:.1f} "
            f"p99 {tq['p99']:.1f} max {tq['max']:.1f} ms",
            flush=True,
        )


def summary(rows: list[dict[str, object]]) -> None:
    base = rows[0]
    bq = base["query_ms"]
    assert isinstance(bq, dict)
    print()
    print(
        "| size | pages | build s | pages/s | build RSS all MiB | index MiB | p50 ms | p95 ms "
        "| p99 ms | max ms | Searcher MiB | p95 / 1x p95 | build / 1x build |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        q = row["query_ms"]
        assert isinstance(q, dict)
        print(
            f"| {row['size']}x | {row['documents']:,} | {row['build_seconds']} | "
            f"{row['pages_per_second']:,} | {row['build_peak_rss_all_mib']} | {row['index_mib']} | "
            f"{q['p50']:.1f} | {q['p95']:.1f} | {q['p99']:.1f} | {q['max']:.1f} | "
            f"{row['searcher_rss_mib']} | {q['p95'] / bq['p95']:.2f} | "
            f"{float(row['build_seconds']) / float(base['build_seconds']):.2f} |"  # type: ignore[arg-type]
        )
    tantivy_rows = [r for r in rows if isinstance(r.get("tantivy"), dict)]
    if tantivy_rows:
        print()
        print(
            "| size | tantivy build s | tantivy p50 ms | tantivy p95 ms | tantivy max ms "
            "| quicksearch/tantivy p50 | p95 | build |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for row in tantivy_rows:
            t, q = row["tantivy"], row["query_ms"]
            assert isinstance(t, dict) and isinstance(q, dict)
            tq = t["query_ms"]
            print(
                f"| {row['size']}x | {t['build_seconds']} | {tq['p50']:.1f} | {tq['p95']:.1f} | "
                f"{tq['max']:.1f} | {q['p50'] / tq['p50']:.2f} | {q['p95'] / tq['p95']:.2f} | "
                f"{float(row['build_seconds']) / float(t['build_seconds']):.2f} |"  # type: ignore[arg-type]
            )
    q1 = base["query_ms"]
    assert isinstance(q1, dict)
    tail = q1["max"] / q1["p50"]
    print(f"\nslowest query at {base['size']}x: {q1['max']:.1f} ms = {tail:.1f}x its p50")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--sizes", default="1,2,4,8", help="comma-separated multiples")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/qs-scale"))
    parser.add_argument("--no-tantivy", dest="tantivy", action="store_false")
    parser.add_argument("--keep", action="store_true", help="keep the indexes after measuring")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if not inputs_present(corpus=args.corpus, queries=args.queries):
        return 2
    if args.tantivy:
        try:
            import tantivy  # noqa: F401
        except ImportError:
            print("tantivy is not installed: pip install -e '.[bench]'", file=sys.stderr)
            return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"corpus {args.corpus}, sizes {sizes}, queries {args.queries}", flush=True)
    started = time.perf_counter()
    rows = [measure(size, args) for size in sizes]
    summary(rows)
    print(f"(whole run {time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
