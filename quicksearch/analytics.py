"""What visitors search for: the query log ``quicksearch serve --query-log`` writes, and its report.

The log is JSON lines, one event each, written off the request path:

- ``{"t": "2026-12-02T07:40:01.123Z", "ev": "search", "q": "cell membrane", "subject": null,
  "page": 1, "limit": 10, "total": 12, "hits": 10, "suggestion": null, "ms": 3.1,
  "gen": "g000012", "top": "Biology", "typing": false, "id": "5f0c1d2e3a4b",
  "shown": ["/learn/...", ...]}`` (``shown``: the urls of the page, in order, which
  ``quicksearch learn`` reads clicks against)
- ``{"t": ..., "ev": "click", "q": "cell membrane", "url": "/learn/...", "rank": 1, "id": ...}``

Nothing about the visitor is recorded: no address, user agent, cookie or any identifier that
outlives one search. ``id`` names one search so that a click can be matched to it; it is random
and never reused. Queries are normalised (case, spaces) and e-mail addresses and long digit runs
in them are masked, since visitors sometimes paste personal details into a search box.

Several server processes append to one file: each write holds whole lines and the file is opened
with ``O_APPEND``, so lines never interleave. The writer notices when logrotate moved the file
away and opens a new one.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import queue
import re
import secrets
import statistics
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quicksearch.errors import InvalidArgumentError, QueryLogError

__all__ = [
    "QueryLog",
    "QueryLogError",
    "QueryReport",
    "build_report",
    "log_lines",
    "new_search_id",
    "normalise_query",
]

_log = logging.getLogger("quicksearch.analytics")

#: Longest query kept in the log, in characters (after normalising).
MAX_LOGGED_QUERY = 300
#: A search typed on the page is folded into a longer one that starts with it this soon after.
FOLD_SECONDS = 30.0

_EMAIL = re.compile(r"\S+@\S+\.\w+")
_DIGITS = re.compile(r"\d[\d \-.]{5,}\d")


def normalise_query(query: str) -> str:
    """The form a query is logged and grouped under: NFKC, lower case, single spaces, with
    e-mail addresses and runs of 7+ digits (phone, card or account numbers) masked."""
    text = unicodedata.normalize("NFKC", query).lower()
    text = _EMAIL.sub("<email>", text)
    text = _DIGITS.sub("<number>", text)
    return " ".join(text.split())[:MAX_LOGGED_QUERY]


def new_search_id() -> str:
    """A random name for one search, returned to the page so that a click can cite it."""
    return secrets.token_hex(6)


def _timestamp(seconds: float) -> str:
    whole = int(seconds)
    millis = int((seconds - whole) * 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{millis:03d}Z"


class QueryLog:
    """Appends events to a JSON-lines file from a background thread.

    :meth:`record` never blocks and never raises: when the writer falls behind by more than
    ``max_pending`` events (a stalled disk), further events are dropped and counted in
    :attr:`dropped`. Use as a context manager, or call :meth:`close` to flush.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        flush_seconds: float = 0.5,
        max_pending: int = 50_000,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self._on_drop = on_drop
        self.dropped = 0
        self.written = 0
        self._flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._queue: queue.SimpleQueue[tuple[float, dict[str, Any]] | None] = queue.SimpleQueue()
        self._fd = self._open()
        self._inode = os.fstat(self._fd).st_ino
        self._last_error = 0.0
        self._thread = threading.Thread(target=self._run, name="quicksearch-query-log", daemon=True)
        self._thread.start()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise QueryLogError(f"cannot open the query log {self.path}: {exc.strerror}") from None

    def record(self, event: str, **fields: Any) -> None:
        """Queue one event (``search`` or ``click``) with its fields."""
        if self._queue.qsize() >= self._max_pending:
            self._dropped(1)
        else:
            self._queue.put((time.time(), {"ev": event, **fields}))

    def _dropped(self, count: int) -> None:
        self.dropped += count
        if self._on_drop is not None:
            self._on_drop(count)

    def close(self) -> None:
        """Write what is queued and close the file."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> QueryLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        done = False
        while not done:
            try:
                first = self._queue.get(timeout=self._flush_seconds)
            except queue.Empty:
                continue
            batch = [first]
            # Whatever else arrived meanwhile goes out in the same write.
            time.sleep(0.05 if first is not None else 0)
            while len(batch) < 10_000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            lines = [
                json.dumps({"t": _timestamp(at), **fields}, ensure_ascii=False)
                for at, fields in (item for item in batch if item is not None)
            ]
            if lines:
                self._write(("\n".join(lines) + "\n").encode("utf-8"), len(lines))

    def _write(self, data: bytes, count: int) -> None:
        try:
            self._follow_rotation()
            # One write of whole lines on an O_APPEND descriptor: other processes' lines land
            # before or after it, never inside it.
            written = os.write(self._fd, data)
            while written < len(data):  # a short write (full disk): finish the line or fail
                written += os.write(self._fd, data[written:])
            self.written += count
        except OSError as exc:
            self._dropped(count)
            now = time.monotonic()
            if now - self._last_error > 60:
                self._last_error = now
                _log.warning("query log %s: %s; events are being dropped", self.path, exc)

    def _follow_rotation(self) -> None:
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = -1
        if current != self._inode:
            fd = self._open()
            os.close(self._fd)
            self._fd = fd
            self._inode = os.fstat(fd).st_ino


# --- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryStats:
    """One normalised query over the report's window."""

    query: str
    searches: int
    zero_results: int = 0
    clicks: int = 0
    clicked_searches: int = 0
    click_through: float = 0.0
    mean_click_rank: float | None = None
    suggestion: str | None = None
    mean_ms: float = 0.0
    max_ms: float = 0.0


@dataclass(frozen=True)
class SubjectStats:
    subject: str
    searches: int
    zero_results: int


@dataclass(frozen=True)
class QueryReport:
    """What ``quicksearch report`` prints: totals and the tables an editor acts on."""

    since: str | None
    until: str | None
    first_event: str | None
    last_event: str | None
    searches: int
    clicks: int
    zero_result_searches: int
    #: Searches made while a visitor was still typing, folded into what they typed next.
    typing_folded: int
    distinct_queries: int
    damaged_lines: int
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    top_queries: tuple[QueryStats, ...] = ()
    zero_result_queries: tuple[QueryStats, ...] = ()
    clicked_queries: tuple[QueryStats, ...] = ()
    rarely_clicked: tuple[QueryStats, ...] = ()
    slowest_queries: tuple[QueryStats, ...] = ()
    subjects: tuple[SubjectStats, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_moment(text: str, *, now: dt.datetime | None = None) -> str:
    """A ``--since``/``--until`` value as the log's timestamp form: ``2026-12-01``,
    ``2026-12-01T06:00``, or a span back from now: ``90m``, ``24h``, ``7d``."""
    value = text.strip()
    span = re.fullmatch(r"(\d+)\s*([mhdw])", value)
    if span:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[span.group(2)]
        moment = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(
            **{unit: int(span.group(1))}
        )
    else:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidArgumentError(
                f"cannot read {text!r} as a date", hint="use 2026-12-01, 2026-12-01T06:00 or 7d"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return _timestamp(moment.timestamp())


def log_lines(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    for path in paths:
        name = os.fspath(path)
        try:
            if name.endswith(".gz"):
                handle = gzip.open(name, "rt", encoding="utf-8", errors="replace")  # noqa: SIM115
            else:
                handle = open(name, encoding="utf-8", errors="replace")  # noqa: SIM115
            with handle:
                yield from handle
        except OSError as exc:
            raise InvalidArgumentError(
                f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}",
                hint="pass the file given to quicksearch serve --query-log",
            ) from None


class _Query:
    __slots__ = ("clicked", "clicks", "ms", "rank_sum", "searches", "suggestions", "zero")

    def __init__(self) -> None:
        self.searches = 0
        self.zero = 0
        self.clicks = 0
        self.rank_sum = 0
        self.clicked: set[str] = set()
        self.ms: list[float] = []
        self.suggestions: Counter[str] = Counter()

    def stats(self, query: str) -> QueryStats:
        clicked = min(len(self.clicked), self.searches) if self.searches else len(self.clicked)
        return QueryStats(
            query=query,
            searches=self.searches,
            zero_results=self.zero,
            clicks=self.clicks,
            clicked_searches=clicked,
            click_through=round(clicked / self.searches, 4) if self.searches else 0.0,
            mean_click_rank=round(self.rank_sum / self.clicks, 2) if self.clicks else None,
            suggestion=self.suggestions.most_common(1)[0][0] if self.suggestions else None,
            mean_ms=round(sum(self.ms) / len(self.ms), 2) if self.ms else 0.0,
            max_ms=round(max(self.ms), 2) if self.ms else 0.0,
        )


def build_report(
    paths: Iterable[str | os.PathLike[str]],
    *,
    since: str | None = None,
    until: str | None = None,
    top: int = 20,
    min_searches: int = 3,
) -> QueryReport:
    """Read query logs (plain or ``.gz``, oldest first) and sum them up over ``[since, until)``.

    ``since``/``until`` take what :func:`parse_moment` reads. Lines that are not events (cut
    short by a crash, edited by hand) are skipped and counted. ``rarely_clicked`` lists queries
    searched at least ``min_searches`` times, lowest click-through first.
    """
    if top < 1:
        raise InvalidArgumentError("top must be at least 1")
    low = parse_moment(since) if since else None
    high = parse_moment(until) if until else None
    searches, clicks, damaged = _read_events(paths, low, high)
    # Server processes flush in turns, so a file is in order only to within a second or so.
    searches.sort(key=lambda item: item[0])
    folded = _typing_folded(searches)
    per_query, per_subject, zero_total = _tally(searches, clicks, folded)
    latencies = sorted(float(r[3]) for r in searches if isinstance(r[3], (int, float)))
    table = {query: entry.stats(query) for query, entry in per_query.items()}
    searched = [s for s in table.values() if s.searches]

    def best(items: Iterable[QueryStats], key: Any) -> tuple[QueryStats, ...]:
        return tuple(sorted(items, key=key)[:top])

    return QueryReport(
        since=low,
        until=high,
        first_event=searches[0][0] if searches else None,
        last_event=searches[-1][0] if searches else None,
        searches=len(searches),
        clicks=len(clicks),
        zero_result_searches=zero_total,
        typing_folded=len(folded),
        distinct_queries=len(searched),
        damaged_lines=damaged,
        latency_ms_p50=round(statistics.median(latencies), 2) if latencies else None,
        latency_ms_p95=round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        top_queries=best(searched, lambda s: (-s.searches, s.query)),
        zero_result_queries=best(
            (s for s in searched if s.zero_results), lambda s: (-s.zero_results, s.query)
        ),
        clicked_queries=best(
            (s for s in table.values() if s.clicks), lambda s: (-s.clicks, s.query)
        ),
        rarely_clicked=best(
            (s for s in searched if s.searches >= min_searches and s.zero_results < s.searches),
            lambda s: (s.click_through, -s.searches, s.query),
        ),
        slowest_queries=best(searched, lambda s: (-s.max_ms, s.query)),
        subjects=tuple(
            SubjectStats(subject, counts[0], counts[1])
            for subject, counts in sorted(per_subject.items(), key=lambda kv: (-kv[1][0], kv[0]))
        )[:top],
    )


_Search = tuple[str, str, Any, Any, Any, bool, Any, str]


def _read_events(
    paths: Iterable[str | os.PathLike[str]], low: str | None, high: str | None
) -> tuple[list[_Search], list[dict[str, Any]], int]:
    """The searches (time, query, total, ms, page, typing, suggestion, subject) and clicks of
    the logs within ``[low, high)``, and how many lines were damaged."""
    searches: list[_Search] = []
    clicks: list[dict[str, Any]] = []
    damaged = 0
    # The decoder's scanner without json.loads' wrapping: a third faster on a million lines.
    scan = json.JSONDecoder().scan_once
    for line in log_lines(paths):
        try:
            event, end = scan(line, 0)
            moment = event["t"]
            kind = event["ev"]
            query = event["q"]
            if not isinstance(moment, str) or not isinstance(query, str):
                raise TypeError
            if end < len(line) - 1 and line[end:].strip():
                raise ValueError
        except (StopIteration, ValueError, KeyError, TypeError):
            if line.strip():
                damaged += 1
            continue
        if (low and moment < low) or (high and moment >= high):
            continue
        if kind == "search":
            get = event.get
            searches.append(
                (
                    moment,
                    query,
                    get("total"),
                    get("ms"),
                    get("page") or 1,
                    get("typing") is True,
                    get("suggestion"),
                    str(get("subject") or get("top") or "(none)"),
                )
            )
        elif kind == "click":
            clicks.append(event)
        else:
            damaged += 1
    return searches, clicks, damaged


def _tally(
    searches: list[_Search], clicks: list[dict[str, Any]], folded: set[int]
) -> tuple[dict[str, _Query], dict[str, list[int]], int]:
    """Per query its searches, clicks and latencies; per subject its searches and zero-result
    searches; and the zero-result searches in all."""
    per_query: defaultdict[str, _Query] = defaultdict(_Query)
    per_subject: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    zero_total = 0
    for i, (_, query, total, ms, page, _, suggestion, subject) in enumerate(searches):
        zero = total == 0
        zero_total += zero
        if page != 1 or i in folded:
            continue
        entry = per_query[query]
        entry.searches += 1
        if isinstance(ms, (int, float)):
            entry.ms.append(ms)
        if zero:
            entry.zero += 1
            if isinstance(suggestion, str) and suggestion:
                entry.suggestions[suggestion] += 1
        counts = per_subject[subject]
        counts[0] += 1
        counts[1] += zero
    for number, event in enumerate(clicks):
        entry = per_query[event["q"]]
        entry.clicks += 1
        rank = event.get("rank")
        entry.rank_sum += rank if isinstance(rank, int) else 0
        # A click without a search id stands for a search of its own.
        entry.clicked.add(str(event.get("id") or f"#{number}"))

    return per_query, per_subject, zero_total


def _typing_folded(searches: list[tuple[str, str, Any, Any, Any, bool, Any, str]]) -> set[int]:
    """Positions of searches the page made while the visitor was typing and that a later search
    (within :data:`FOLD_SECONDS`) extends: "photos" and "photosynth" before "photosynthesis"."""
    folded: set[int] = set()
    pending: dict[str, tuple[float, int]] = {}
    lengths: dict[int, int] = {}  # of the pending queries: the only prefixes worth a look
    seconds: dict[str, float] = {}  # whole-second timestamps, each parsed once
    for i, (moment, query, _, _, page, typing, _, _) in enumerate(searches):
        typing = typing and page == 1
        if not pending and not typing:
            continue
        at = seconds.get(moment[:19])
        if at is None:
            at = seconds[moment[:19]] = _epoch(moment[:19])
        if pending:
            size = len(query)
            for cut in [n for n in lengths if n < size]:
                seen = pending.get(query[:cut])
                if seen is not None and at - seen[0] <= FOLD_SECONDS:
                    folded.add(seen[1])
                    del pending[query[:cut]]
                    _forget(lengths, cut)
            if i % 512 == 0:
                for key in [k for k, (t, _) in pending.items() if at - t > FOLD_SECONDS]:
                    del pending[key]
                    _forget(lengths, len(key))
                if len(seconds) > 100_000:
                    seconds.clear()
        if typing:
            if query not in pending:
                lengths[len(query)] = lengths.get(len(query), 0) + 1
            pending[query] = (at, i)
    return folded


def _forget(lengths: dict[int, int], size: int) -> None:
    left = lengths[size] - 1
    if left:
        lengths[size] = left
    else:
        del lengths[size]


def _epoch(whole_second: str) -> float:
    try:
        return dt.datetime.fromisoformat(whole_second).replace(tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return 0.0


def report_files(path: str | os.PathLike[str]) -> list[Path]:
    """The log and its rotated siblings (``FILE.1``, ``FILE.2.gz``, ...), oldest first."""
    main = Path(path)
    rotated = []
    for sibling in main.parent.glob(main.name + ".*"):
        suffix = sibling.name[len(main.name) + 1 :].removesuffix(".gz")
        if suffix.isdigit():
            rotated.append((int(suffix), sibling))
    return [p for _, p in sorted(rotated, reverse=True)] + ([main] if main.exists() else [])
