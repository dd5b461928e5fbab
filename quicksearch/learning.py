"""Search that learns from its visitors: per-query preferences fitted from the query log, and
popular whole queries for autocomplete.

``quicksearch learn LOG... --out FILE`` reads the logs ``serve --query-log`` writes (each
search lists the urls it showed, in order; each click names its search) and writes a small
JSON file an operator can read, edit and review (``--diff``) before deploying it with ``serve
--learned FILE`` or ``open_index(..., learned=FILE)``.

The click model: a result's chance of a click is its rank's examination times its
attractiveness for the query (the examination hypothesis of position-based models). The
examination curve is measured once over every logged search (clicks per showing at each rank),
and a page's weight for a query is its clicks over the clicks its ranks get on average (COEC,
clicks over expected clicks). Why not the position-based model fitted by EM (Chuklin, Markov and
de Rijke, *Click Models for Web Search*, 2015)? It separates examination from attractiveness only
when a page is seen at several ranks of one query; a deterministic engine shows it at one, and
then EM splits the product arbitrarily: on simulated clicks that follow position alone it made
49 of 50 first results "preferred". COEC needs only what the log holds (no dwell time, no
sessions, no visitor identity) and learns nothing from position-only or random clicks. A
cascade model (DBN) would also need the order in which visitors read the results.

Safeguards: a query changes nothing until its searches reach ``min_searches`` spread over
``min_days`` distinct days within the last ``window_days``; one click counts per search and url,
and only on a url that search showed; a page is preferred only when its clicks beat its
ranks' average by ``min_z`` standard deviations, on ``min_days`` distinct days; a preference
only reorders pages a query already found, moving a page up at most ``max_move`` places and
only among pages scoring at least ``band`` times the best; a query can be switched off
(``"enabled": false``) or excluded, and urls excluded, in the file itself. Without a file,
nothing changes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quicksearch.analytics import log_lines, normalise_query
from quicksearch.errors import InvalidArgumentError

__all__ = ["Learned", "LearningOptions", "Preference", "learn", "learned_diff", "load_learned"]

FORMAT = 1
_MAX_RANK = 50


@dataclass(frozen=True)
class LearningOptions:
    """The thresholds of :func:`learn` (see the module's safeguards)."""

    window_days: int = 90
    min_searches: int = 20
    min_days: int = 3
    #: A page needs this many showings of the query to carry a preference.
    min_shown: int = 10
    #: A page is preferred when its clicks beat what its ranks get on average by this many
    #: standard deviations (and were made on ``min_days`` days). 2.75 measured: random clicks on
    #: 50 queries made one page preferred, 5,000 navigational searches made 68 queries learned.
    min_z: float = 2.75
    max_move: int = 3
    band: float = 0.7
    #: Popular queries for autocomplete: searched this often, on this many days, clicked.
    popular_searches: int = 20
    popular_days: int = 3
    popular_limit: int = 5_000


@dataclass
class _Shown:
    query: str
    day: str
    urls: list[str]
    first_rank: int  # global rank of urls[0] (1-based)
    total: int
    clicked: set[str]


def _read(paths: Iterable[str | os.PathLike[str]], since: str | None) -> tuple[list[_Shown], int]:
    """Searches that list what they showed, with their clicks; and how many clicks were
    ignored (no such search, a url it did not show, or a repeat)."""
    searches: dict[str, _Shown] = {}
    clicks: list[dict[str, Any]] = []
    for line in log_lines(paths):
        try:
            event = json.loads(line)
            moment, kind = str(event["t"]), event["ev"]
        except (ValueError, KeyError, TypeError):
            continue
        if since is not None and moment < since:
            continue
        if kind == "search" and isinstance(event.get("shown"), list) and event.get("id"):
            limit = int(event.get("limit") or len(event["shown"]) or 10)
            page = int(event.get("page") or 1)
            searches[str(event["id"])] = _Shown(
                normalise_query(str(event.get("q", ""))),
                moment[:10],
                [str(u) for u in event["shown"]][:_MAX_RANK],
                (page - 1) * limit + 1,
                int(event.get("total") or 0),
                set(),
            )
        elif kind == "click":
            clicks.append(event)
    ignored = 0
    for click in clicks:
        shown = searches.get(str(click.get("id")))
        url = str(click.get("url", ""))
        if shown is None or url not in shown.urls or url in shown.clicked:
            ignored += 1
            continue
        shown.clicked.add(url)
    return list(searches.values()), ignored


def _examination(searches: Sequence[_Shown]) -> list[float]:
    """Clicks per showing at each rank, over every query: the clicks a result gets for its
    position alone, on average (index = rank; rank 0 unused)."""
    shown = [0] * (_MAX_RANK + 1)
    clicked = [0] * (_MAX_RANK + 1)
    for s in searches:
        for i, url in enumerate(s.urls):
            rank = min(s.first_rank + i, _MAX_RANK)
            shown[rank] += 1
            clicked[rank] += url in s.clicked
    return [clicked[r] / shown[r] if shown[r] else 0.0 for r in range(_MAX_RANK + 1)]


def learn(
    paths: Iterable[str | os.PathLike[str]],
    *,
    options: LearningOptions = LearningOptions(),
    now: dt.datetime | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The learned file's content from query logs (see the module). ``previous`` (an earlier
    file) carries over its exclusions and switched-off queries."""
    paths = list(paths)
    if now is None:
        now = dt.datetime.now(dt.timezone.utc)
    since = (now - dt.timedelta(days=options.window_days)).strftime("%Y-%m-%dT%H:%M:%S")
    searches, ignored = _read(paths, since)
    excluded = set((previous or {}).get("exclude", {}).get("queries", []))
    excluded_urls = set((previous or {}).get("exclude", {}).get("urls", []))
    disabled = {q for q, e in (previous or {}).get("queries", {}).items() if not e.get("enabled")}
    expect = _examination(searches)
    by_query: dict[str, list[_Shown]] = defaultdict(list)
    for s in searches:
        if s.query:
            by_query[s.query].append(s)
    queries: dict[str, Any] = {}
    popular: list[dict[str, Any]] = []
    for query, group in by_query.items():
        days = {s.day for s in group}
        clicks = sum(len(s.clicked) for s in group)
        found = sum(1 for s in group if s.total > 0)
        private = "<email>" in query or "<number>" in query
        if (
            not private
            and query not in excluded
            and len(group) >= options.popular_searches
            and len(days) >= options.popular_days
            and found == len(group)
            and clicks
        ):
            popular.append({"query": query, "searches": len(group), "days": len(days)})
        if query in excluded or len(group) < options.min_searches or len(days) < options.min_days:
            continue
        shown: dict[str, int] = defaultdict(int)
        clicked: dict[str, int] = defaultdict(int)
        exposure: dict[str, float] = defaultdict(float)  # expected examinations
        url_days: dict[str, set[str]] = defaultdict(set)
        for s in group:
            for i, url in enumerate(s.urls):
                shown[url] += 1
                exposure[url] += expect[min(s.first_rank + i, _MAX_RANK)]
            for url in s.clicked:
                clicked[url] += 1
                url_days[url].add(s.day)
        # A page's weight is its clicks over the clicks its ranks get on average (COEC); it is
        # preferred only when its clicks beat that by ``min_z`` standard deviations, so clicks
        # that follow position alone, or chance, learn nothing.
        urls = {}
        for url in shown:
            if shown[url] < options.min_shown or url in excluded_urls:
                continue
            expected = exposure[url]
            z = (clicked[url] - expected) / math.sqrt(max(expected, 1e-9))
            urls[url] = {
                "weight": round((clicked[url] + 1.0) / (expected + 1.0), 4),
                "z": round(z, 2),
                # and clicked on enough distinct days: a burst in one day is no evidence
                "preferred": z >= options.min_z and len(url_days[url]) >= options.min_days,
                "shown": shown[url],
                "clicks": clicked[url],
                "days": len(url_days[url]),
            }
        if not any(u["preferred"] for u in urls.values()):
            continue  # nothing tells the pages apart
        queries[query] = {
            "enabled": query not in disabled,
            "searches": len(group),
            "days": len(days),
            "urls": dict(sorted(urls.items(), key=lambda kv: -kv[1]["weight"])),
        }
    popular.sort(key=lambda p: (-p["searches"], p["query"]))
    return {
        "format": FORMAT,
        "built_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "logs": [os.fspath(p) for p in paths],
        "options": {k: getattr(options, k) for k in LearningOptions.__dataclass_fields__},
        "examination": [round(e / (expect[1] or 1.0), 4) for e in expect[1:11]],
        "searches": len(searches),
        "ignored_clicks": ignored,
        "exclude": {"queries": sorted(excluded), "urls": sorted(excluded_urls)},
        "queries": dict(sorted(queries.items())),
        "popular": popular[: options.popular_limit],
    }


@dataclass(frozen=True)
class Preference:
    """What was learned for one query: its preferred pages' weights, the lowest weight of its
    pages (the baseline a preferred page's lift is measured from), and the bounds."""

    weights: dict[str, float]
    low: float
    max_move: int
    band: float

    def reorder(self, urls: Sequence[str], scores: Sequence[float]) -> list[int]:
        """Positions of ``urls`` (ranked, with ``scores``) in their learned order: a page moves
        up at most ``max_move`` places, in proportion to how much more attractive it is than
        the baseline, and only among pages within ``band`` of the best."""
        high = max(self.weights.values())
        best = scores[0] if scores else 0.0
        keys = []
        for i, url in enumerate(urls):
            shift = 0.0
            weight = self.weights.get(url)
            if weight is not None and high > self.low and scores[i] >= self.band * best:
                shift = self.max_move * (weight - self.low) / (high - self.low)
            keys.append((i - math.floor(shift + 1e-9), -(weight or 0.0), i))
        return [k[2] for k in sorted(keys)]


class Learned:
    """A learned file, loaded for searching (see :func:`load_learned`)."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise InvalidArgumentError(
                f"not a quicksearch learned file (format {data.get('format')!r})",
                hint="write one with: quicksearch learn LOG... --out FILE",
            )
        options = data.get("options", {})
        excluded = set(data.get("exclude", {}).get("urls", []))
        max_move = int(options.get("max_move", LearningOptions.max_move))
        band = float(options.get("band", LearningOptions.band))
        self._preferences: dict[str, Preference] = {}
        for query, entry in data.get("queries", {}).items():
            urls = {u: v for u, v in entry.get("urls", {}).items() if u not in excluded}
            preferred = {u: float(v["weight"]) for u, v in urls.items() if v.get("preferred")}
            if entry.get("enabled", True) and preferred:
                low = min(float(v["weight"]) for v in urls.values())
                self._preferences[query] = Preference(preferred, low, max_move, band)
        skip = set(data.get("exclude", {}).get("queries", []))
        self.popular: list[tuple[str, int]] = [
            (p["query"], int(p["searches"]))
            for p in data.get("popular", [])
            if p["query"] not in skip
        ]

    def preference(self, query: str) -> Preference | None:
        """What was learned for ``query`` (as typed), if anything."""
        return self._preferences.get(normalise_query(query))

    def completions(self, text: str, limit: int) -> list[str]:
        """Popular whole queries that extend ``text``, most searched first."""
        start = normalise_query(text)
        if not start:
            return []
        return [q for q, _ in self.popular if q.startswith(start) and q != start][:limit]


def load_learned(path: str | os.PathLike[str]) -> Learned:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArgumentError(
            f"cannot read the learned file {os.fspath(path)}: {exc}",
            hint="write one with: quicksearch learn LOG... --out FILE",
        ) from None
    return Learned(data)


def learned_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """What deploying ``new`` instead of ``old`` changes, one line per query, for review."""
    before = (old or {}).get("queries", {})
    lines = []
    for query, entry in new.get("queries", {}).items():
        top = _favourite(entry)
        was = _favourite(before.get(query, {}))
        evidence = f"{entry['searches']} searches on {entry['days']} days"
        state = "" if entry.get("enabled", True) else " (switched off)"
        if was is None:
            lines.append(f"+ {query!r}: prefers {top} ({evidence}){state}")
        elif was != top:
            lines.append(f"~ {query!r}: {was} -> {top} ({evidence}){state}")
    for query in before:
        if query not in new.get("queries", {}):
            lines.append(f"- {query!r}: no longer learned")
    return lines


def _favourite(entry: dict[str, Any]) -> str | None:
    """The most attractive preferred page of a learned query."""
    preferred = [(v["weight"], u) for u, v in entry.get("urls", {}).items() if v.get("preferred")]
    return max(preferred)[1] if preferred else None
