"""Load test of `quicksearch serve`: concurrent keep-alive clients on loopback, bounded in time.

Usage:
    python benchmarks/load.py --index DIR [--queries FILE] [--words 2] [--clients 16]
        [--seconds 20] [--workers 2] [--endpoint search|suggest] [--rebuild SOURCE] [--json OUT]
    python benchmarks/load.py --index DIR --query-log [FILE] [--rounds 3] ...

Starts the real server (`quicksearch serve --workers N`) on 127.0.0.1, then N clients send
GET /search (or /suggest) requests back to back, cycling through the queries of the file that
have --words words (default: the dev set's 2-word queries). Each request comes on a new
connection, as from many visitors, so the kernel hands it to an idle worker; with --keep-alive
each client keeps one connection, which stays with one worker however busy that worker is.
Prints requests/s, latency p50/p95/p99 (client side, send to last byte) and errors: any status
but 200, a timeout (10 s) or a dropped connection. With --rebuild SOURCE, a full rebuild
(`quicksearch index SOURCE --full`) of the served index runs during the load, and the served
generation is shown before and after. Clients and server share this machine's cores, so the
figures are a floor; traffic goes to loopback only and stops by itself.

With --query-log, the load runs in rounds alternating a server without and with
`--query-log` (a fresh log in a temporary folder), so the two are measured under the same
machine noise; it prints the throughput of each and the ratio with/without, and checks the log:
one well-formed line per answered search, none lost, none interleaved across the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from eval_dev import inputs_present

DEFAULT_QUERIES = Path(__file__).resolve().parents[2] / "shared/eval/quicktakes-dev.jsonl"
EXE = shutil.which("quicksearch") or "quicksearch"
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def start_server(
    index: str, port: int, workers: int, query_log: Path | None = None
) -> subprocess.Popen[bytes]:
    cmd = [EXE, "serve", "--index", index, "--port", str(port), "--workers", str(workers)]
    if query_log is not None:
        cmd += ["--query-log", str(query_log)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            get_json(f"http://127.0.0.1:{port}/health")
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {process.stderr.read().decode()}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not start within 60 s")


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    @property
    def answered(self) -> int:
        """Requests answered with a 200."""
        failed = sum(n for kind, n in self.errors.items() if kind.startswith("HTTP"))
        return len(self.latencies) - failed

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def one_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, keep_alive: bool
) -> int:
    close = "" if keep_alive else "Connection: close\r\n"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{close}\r\n".encode())
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def client(
    port: int, paths: list[str], offset: int, until: float, tally: Tally, keep_alive: bool
) -> None:
    connection = None
    i = offset
    while time.perf_counter() < until:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            status = await asyncio.wait_for(one_request(*connection, path, keep_alive), TIMEOUT)
            if not keep_alive:
                connection[1].close()
                connection = None
        except asyncio.TimeoutError:
            tally.error("timeout")
            connection = None
            continue
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            tally.error(type(exc).__name__)
            connection = None
            await asyncio.sleep(0.01)
            continue
        tally.latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            tally.error(f"HTTP {status}")
    if connection is not None:
        connection[1].close()


async def load(
    port: int, paths: list[str], clients: int, seconds: float, keep_alive: bool = False
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    until = started + seconds
    step = max(1, len(paths) // clients)
    await asyncio.gather(
        *(client(port, paths, c * step, until, tally, keep_alive) for c in range(clients))
    )
    return tally, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--index", required=True, help="index folder, or typesense://HOST:PORT,.../NAME, to serve"
    )
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--words", type=int, default=2, help="use queries of this many words")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--endpoint", choices=["search", "suggest"], default="search")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="one connection per client (it then stays with one server worker)",
    )
    parser.add_argument("--rebuild", metavar="SOURCE", help="full rebuild during the load")
    parser.add_argument(
        "--expect",
        metavar="QUERY=URL",
        help="after the rebuild, check that QUERY finds URL first (a page new in SOURCE)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--query-log",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="compare throughput without and with serve --query-log, in alternating rounds "
        "(FILE keeps the last logged round's log; default: a temporary file)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each, with --query-log")
    args = parser.parse_args()
    if not inputs_present(queries=args.queries):
        return 2
    if not args.index.startswith("typesense://") and not Path(args.index).is_dir():
        print(f"index not found: {args.index} (build one with quicksearch index)", file=sys.stderr)
        return 2
    queries = [json.loads(line)["query"] for line in args.queries.read_text().splitlines() if line]
    queries = [q for q in dict.fromkeys(queries) if len(q.split()) == args.words] or queries
    paths = [f"/{args.endpoint}?q={quote(q)}&limit=10" for q in queries]
    if args.query_log is not None:
        return compare_query_log(args, paths)

    port = free_port()
    server = start_server(args.index, port, args.workers)
    rebuild = None
    found_first = None
    try:
        base = f"http://127.0.0.1:{port}"
        before = get_json(f"{base}/health")
        # Warm every worker (first searches load the vocabulary) before measuring.
        asyncio.run(load(port, paths[:50], 4, 2.0))
        if args.rebuild:
            rebuild = subprocess.Popen(
                [EXE, "index", args.rebuild, "--index", args.index, "--full", "--quiet"],
                stdout=subprocess.DEVNULL,
            )
        tally, elapsed = asyncio.run(load(port, paths, args.clients, args.seconds, args.keep_alive))
        if rebuild is not None:
            rebuild_rc = rebuild.wait()
            time.sleep(2.0)  # the server checks for a new generation every second
            tally_after, _ = asyncio.run(load(port, paths[:200], 4, 3.0))
            after = get_json(f"{base}/health")
            if args.expect:
                query, _, url = args.expect.partition("=")
                hits = get_json(f"{base}/search?q={quote(query)}")["hits"]
                found_first = bool(hits) and hits[0]["url"] == url
        else:
            rebuild_rc, tally_after, after = None, None, before
    finally:
        if rebuild is not None and rebuild.poll() is None:
            rebuild.kill()
        server.terminate()
        server.wait(timeout=20)

    cuts = statistics.quantiles(tally.latencies, n=100) if len(tally.latencies) > 1 else [0] * 99
    figures = {
        "endpoint": args.endpoint,
        "queries": len(paths),
        "words": args.words,
        "clients": args.clients,
        "keep_alive": args.keep_alive,
        "server_workers": args.workers,
        "cores": os.cpu_count(),
        "seconds": round(elapsed, 1),
        "requests": len(tally.latencies),
        "requests_per_s": round(len(tally.latencies) / elapsed, 1),
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(tally.latencies, default=0.0), 1),
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "documents_before": before["documents"],
        "generation_before": before["generation"],
    }
    if args.rebuild:
        figures.update(
            rebuild_exit_code=rebuild_rc,
            errors_after_rebuild=sum(tally_after.errors.values()) if tally_after else None,
            documents_after=after["documents"],
            generation_after=after["generation"],
            expected_found_first=found_first,
        )
    print(
        f"{args.endpoint}: {figures['requests']} requests in {figures['seconds']} s from "
        f"{args.clients} clients ({args.words}-word queries, {len(paths)} distinct), "
        f"server workers {args.workers}, {figures['cores']} cores shared with the clients"
    )
    print(f"  throughput  {figures['requests_per_s']} requests/s")
    print(
        f"  latency ms  p50 {figures['p50_ms']}  p95 {figures['p95_ms']}  "
        f"p99 {figures['p99_ms']}  max {figures['max_ms']}"
    )
    print(f"  errors      {figures['errors']} {tally.errors or ''}")
    if args.rebuild:
        print(
            f"  rebuild     exit {rebuild_rc}; generation {before['generation']} -> "
            f"{after['generation']}; documents {before['documents']} -> {after['documents']}; "
            f"errors after it {figures['errors_after_rebuild']}"
        )
        if args.expect:
            print(f"  new page    {args.expect}: found first = {found_first}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures["errors"] == 0 and found_first is not False else 1


def compare_query_log(args: argparse.Namespace, paths: list[str]) -> int:
    """Alternating rounds without and with the query log; the log checked line by line."""
    import tempfile

    rates: dict[bool, list[float]] = {False: [], True: []}
    problems: list[str] = []
    for round_no in range(args.rounds):
        for logged in (False, True):
            with tempfile.TemporaryDirectory() as folder:
                log = None
                if logged:
                    log = Path(args.query_log or Path(folder) / "queries.jsonl")
                    log.unlink(missing_ok=True)  # each round's log holds that round alone
                port = free_port()
                server = start_server(args.index, port, args.workers, log)
                try:
                    warm, _ = asyncio.run(load(port, paths[:50], 4, 2.0))
                    tally, elapsed = asyncio.run(
                        load(port, paths, args.clients, args.seconds, args.keep_alive)
                    )
                finally:
                    server.terminate()  # the workers flush their logs as they stop
                    server.wait(timeout=30)
                rate = len(tally.latencies) / elapsed
                rates[logged].append(rate)
                line = f"  round {round_no + 1} log {'on ' if logged else 'off'} {rate:8.1f} req/s"
                if log is not None:
                    sent = warm.answered + tally.answered
                    good, bad = check_log(log)
                    line += f"  log lines {good} of {sent} answered searches, {bad} damaged"
                    if good != sent or bad:
                        problems.append(f"round {round_no + 1}: {good} lines for {sent}, {bad} bad")
                print(line, flush=True)
                if tally.errors:
                    problems.append(f"round {round_no + 1}: errors {tally.errors}")
    off, on = statistics.mean(rates[False]), statistics.mean(rates[True])
    figures = {
        "workers": args.workers,
        "clients": args.clients,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "requests_per_s_log_off": round(off, 1),
        "requests_per_s_log_on": round(on, 1),
        "ratio_on_to_off": round(on / off, 3),
        "problems": problems,
    }
    print(
        f"query log: {on:.1f} req/s with it, {off:.1f} without, ratio {on / off:.3f} "
        f"(mean of {args.rounds} alternating rounds, {args.workers} workers)"
    )
    verdict = problems or "every answered search logged once, no damaged line"
    print(f"log check: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if not problems else 1


def check_log(path: Path) -> tuple[int, int]:
    """Well-formed search lines and damaged lines in a query log."""
    good = bad = 0
    for raw in path.read_bytes().splitlines():
        try:
            event = json.loads(raw)
            good += event["ev"] == "search" and isinstance(event["q"], str)
        except (ValueError, KeyError, TypeError):
            bad += 1
    return good, bad


if __name__ == "__main__":
    raise SystemExit(main())
