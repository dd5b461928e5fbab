"""Memory and pauses under junk traffic: random-word searches on one warmed Searcher.

The method of the issue that asked for it: open a Searcher, warm it, ``gc.collect();
gc.freeze()`` as ``serve`` does after loading, then search random lowercase words (1-3 words
of 3-12 letters, limit 10) and report, at checkpoints, the process RSS, the objects the garbage
collector tracks, how long one full collection takes, the slowest search since the last
checkpoint, and the bytes each query-filled cache holds.

    python benchmarks/junk.py --index /tmp/qs1x --searches 500000 --every 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import string
import time
from pathlib import Path

from quicksearch import open_index


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def junk_query(rng: random.Random) -> str:
    words = rng.randint(1, 3)
    return " ".join(
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 12))) for _ in range(words)
    )


def full_collection_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--searches", type=int, default=200_000)
    parser.add_argument("--every", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the rows here as well")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    rows = []
    with open_index(args.index) as searcher:
        searcher.warm()
        searcher.search("photosynthesis")
        gc.collect()
        gc.freeze()
        start_rss, start_objects = rss_mib(), len(gc.get_objects())
        print(f"{'searches':>9} {'RSS MiB':>8} {'+MiB':>6} {'GC objects':>11} {'+objects':>9} "
              f"{'full gc ms':>10} {'slowest ms':>10}  cache bytes")
        slowest, slowest_query, over, done = 0.0, "", 0, 0
        while done < args.searches:
            for _ in range(min(args.every, args.searches - done)):
                q = junk_query(rng)
                started = time.perf_counter()
                searcher.search(q, limit=10)
                took = time.perf_counter() - started
                if took > slowest:
                    slowest, slowest_query = took, q
                over += took > 0.05
                done += 1
            objects = len(gc.get_objects())
            row = {
                "searches": done,
                "rss_mib": round(rss_mib(), 1),
                "rss_growth_mib": round(rss_mib() - start_rss, 1),
                "gc_objects": objects,
                "gc_growth": objects - start_objects,
                "full_gc_ms": round(full_collection_ms(), 1),
                "slowest_ms": round(slowest * 1000, 1),
                "slowest_query": slowest_query,
                "over_50ms": over,
                "caches": searcher.cache_sizes(),
            }
            rows.append(row)
            caches = " ".join(f"{k}={v:,}" for k, v in row["caches"].items())
            print(f"{done:>9,} {row['rss_mib']:>8} {row['rss_growth_mib']:>6} "
                  f"{objects:>11,} {row['gc_growth']:>9,} {row['full_gc_ms']:>10} "
                  f"{row['slowest_ms']:>10}  {caches}  (slowest: {slowest_query!r}; "
                  f"{over} over 50 ms)", flush=True)
            slowest, slowest_query, over = 0.0, "", 0
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
