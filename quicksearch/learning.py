"""Search that learns from its visitors: per-query preferences fitted from the query log, and
popular whole queries for autocomplete.

``quicksearch learn LOG... --out FILE`` reads the logs ``serve --query-log`` writes (each
search lists the urls it showed, in order; each click names its search), fits a
position-based click model (PBM: a click needs the result examined, with a probability that
depends only on its rank, and found attractive, with a probability that depends only on the
query and the page), and writes a small JSON file an operator can read, edit and review
(``--diff``) before deploying it with ``serve --learned FILE`` or ``open_index(...,
learned=FILE)``.

Why PBM, fitted by EM over all queries (Chuklin, Markov and de Rijke, *Click Models for Web
Search*, 2015): one global examination curve is estimated from every logged search, so a page
clicked often only because it was shown first is not mistaken for a preferred one, and the
model needs nothing but what each search showed and which results were clicked (no dwell time,
no sessions, no visitor identity). A cascade model (DBN) would also need to know the order in
which a visitor looked at results, which a search page does not report.

Safeguards: a query changes nothing until its searches reach ``min_searches`` spread over
``min_days`` distinct days within the last ``window_days``; one click counts per search and url,
and only on a url that search showed; a preference only reorders pages a query already found,
moving a page up at most ``max_move`` places and only among pages scoring at least ``band``
times the best; a query can be switched off (``"enabled": false``) or excluded, and urls
excluded, in the file itself. Without a file, nothing changes.
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

__all__ = ["Learned", "LearningOptions", "learn", "learned_diff", "load_learned"]

FORMAT = 1
_EM_ROUNDS = 40
_PRIOR_CLICKS = 1.0  # a page's attractiveness starts from one click in ``_PRIOR_SHOWN`` showings
_PRIOR_SHOWN = 10.0
_MAX_RANK = 50


@dataclass(frozen=True)
class LearningOptions:
    """The thresholds of :func:`learn` (see the module's safeguards)."""

    window_days: int = 90
    min_searches: int = 20
    min_days: int = 3
    #: A page needs this many showings of the query to carry a preference.
    min_shown: int = 10
    #: Attractiveness must differ by at least this much between a query's pages to reorder.
    min_lift: float = 0.1
    #: A page is preferred when its clicks beat equal attractiveness by this many standard
    #: deviations (3.5: one page in about 4,000 by chance alone).
    min_z: float = 3.5
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


def _fit(searches: Sequence[_Shown]) -> tuple[list[float], dict[tuple[str, str], float]]:
    """PBM by expectation-maximisation: examination per rank, attractiveness per (query, url)."""
    gamma = [0.5] * (_MAX_RANK + 1)
    alpha: dict[tuple[str, str], float] = defaultdict(lambda: 0.2)
    for _ in range(_EM_ROUNDS):
        a_num: dict[tuple[str, str], float] = defaultdict(lambda: _PRIOR_CLICKS)
        a_den: dict[tuple[str, str], float] = defaultdict(lambda: _PRIOR_SHOWN)
        g_num = [0.0] * (_MAX_RANK + 1)
        g_den = [0.0] * (_MAX_RANK + 1)
        for s in searches:
            for i, url in enumerate(s.urls):
                rank = min(s.first_rank + i, _MAX_RANK)
                key = (s.query, url)
                a, g = alpha[key], gamma[rank]
                if url in s.clicked:
                    a_post = g_post = 1.0
                else:
                    miss = max(1e-9, 1.0 - a * g)
                    a_post = a * (1.0 - g) / miss
                    g_post = g * (1.0 - a) / miss
                a_num[key] += a_post
                a_den[key] += 1.0
                g_num[rank] += g_post
                g_den[rank] += 1.0
        alpha = defaultdict(lambda: 0.2, {k: a_num[k] / a_den[k] for k in a_num})
        gamma = [g_num[r] / g_den[r] if g_den[r] else gamma[r] for r in range(_MAX_RANK + 1)]
    return gamma, dict(alpha)


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
    gamma, alpha = _fit(searches)
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
                exposure[url] += gamma[min(s.first_rank + i, _MAX_RANK)]
            for url in s.clicked:
                clicked[url] += 1
                url_days[url].add(s.day)
        # Were every page equally attractive, each would get clicks in proportion to how often
        # it was examined: a page carries a preference only when its clicks beat that by
        # ``min_z`` standard deviations (so position-only or random clicks, whose estimates
        # differ by chance, learn nothing).
        mean = sum(clicked.values()) / max(1e-9, sum(exposure.values()))
        urls = {}
        for url in shown:
            if shown[url] < options.min_shown or url in excluded_urls:
                continue
            expected = mean * exposure[url]
            z = (clicked[url] - expected) / math.sqrt(max(expected, 1e-9))
            urls[url] = {
                "weight": round(alpha.get((query, url), 0.0), 4),
                "z": round(z, 2),
                "preferred": z >= options.min_z,
                "shown": shown[url],
                "clicks": clicked[url],
                "days": len(url_days[url]),
            }
        weights = [u["weight"] for u in urls.values()]
        if not any(u["preferred"] for u in urls.values()) or (
            max(weights) - min(weights) < options.min_lift
        ):
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
        "examination": [round(g, 4) for g in gamma[1:11]],
        "searches": len(searches),
        "ignored_clicks": ignored,
        "exclude": {"queries": sorted(excluded), "urls": sorted(excluded_urls)},
        "queries": dict(sorted(queries.items())),
        "popular": popular[: options.popular_limit],
    }


class Learned:
    """A learned file, loaded for searching (see :func:`load_learned`)."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise InvalidArgumentError(
                f"not a quicksearch learned file (format {data.get('format')!r})",
                hint="write one with: quicksearch learn LOG... --out FILE",
            )
        options = data.get("options", {})
        self.max_move = int(options.get("max_move", LearningOptions.max_move))
        self.band = float(options.get("band", LearningOptions.band))
        excluded = set(data.get("exclude", {}).get("urls", []))
        # Per query, its preferred pages' weights, and the lowest weight of its pages (the
        # baseline a preferred page's lift is measured from).
        self._weights: dict[str, dict[str, float]] = {}
        for query, entry in data.get("queries", {}).items():
            urls = {u: v for u, v in entry.get("urls", {}).items() if u not in excluded}
            preferred = {u: float(v["weight"]) for u, v in urls.items() if v.get("preferred")}
            if entry.get("enabled", True) and preferred:
                low = min(float(v["weight"]) for v in urls.values())
                self._weights[query] = {"": low, **preferred}
        skip = set(data.get("exclude", {}).get("queries", []))
        self.popular: list[tuple[str, int]] = [
            (p["query"], int(p["searches"]))
            for p in data.get("popular", [])
            if p["query"] not in skip
        ]

    def weights(self, query: str) -> dict[str, float] | None:
        """The learned weights of the urls of ``query`` (as typed), if it has any."""
        return self._weights.get(normalise_query(query))

    def reorder(self, weights: dict[str, float], urls: Sequence[str], scores: Sequence[float]):  # type: ignore[no-untyped-def]
        """Positions of ``urls`` (ranked, with ``scores``) in their learned order: a page moves
        up at most ``max_move`` places, in proportion to how much more attractive it is than
        the least attractive learned page, and only among pages within ``band`` of the best."""
        if not urls:
            return []
        low = weights.get("", 0.0)
        high = max(weights.values())
        best = scores[0] if scores else 0.0
        keys = []
        for i, url in enumerate(urls):
            shift = 0.0
            weight = weights.get(url)
            if weight is not None and high > low and scores[i] >= self.band * best:
                shift = self.max_move * (weight - low) / (high - low)
            keys.append((i - math.floor(shift + 1e-9), -(weight or 0.0), i))
        return [k[2] for k in sorted(keys)]

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
