"""Plain, frozen data objects of the public API. No engine types appear here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from quicksearch.cleaning import canonical_subject


def _keywords_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(k for k in (str(item).strip() for item in items) if k)


@dataclass(frozen=True)
class Document:
    """One Q&A page, parsed and cleaned, ready to index.

    ``url`` is the unique key. ``subject`` is normalised on construction (``"computer science"``
    becomes ``"Computer Science"``) and ``keywords`` may be given as a comma-separated string.
    Pages with ``no_index=True`` are never indexed.
    """

    url: str
    question: str
    answer: str
    keywords: tuple[str, ...] = ()
    subject: str = ""
    date: dt.date | None = None
    id: str | None = None
    source: str | None = None
    no_index: bool = False

    def __post_init__(self) -> None:
        # Frozen, so normalise through object.__setattr__; apps get the same rules as files.
        object.__setattr__(self, "keywords", _keywords_tuple(self.keywords))
        object.__setattr__(self, "subject", canonical_subject(self.subject or ""))
        if isinstance(self.date, dt.datetime):
            object.__setattr__(self, "date", self.date.date())
        if self.id is not None and not isinstance(self.id, str):
            object.__setattr__(self, "id", str(self.id))


@dataclass(frozen=True)
class SkippedFile:
    """A page that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class BuildReport:
    """What a build did: counts, skipped pages with reasons, and wall time."""

    indexed: int
    skipped: tuple[SkippedFile, ...]
    excluded: int
    seconds: float
    index_dir: str
    generation: str
    #: "full" (a complete rebuild) or "update" (changes applied to the live index).
    mode: str = "full"
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    #: Documents in the live index after this run.
    documents: int = 0
    #: Things a person should look at although nothing failed (e.g. the index is empty).
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [asdict(s) for s in self.skipped]
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class Hit:
    """One ranked result. ``snippet`` and ``title_html`` are safe HTML: escaped text plus marks."""

    url: str
    title: str
    subject: str
    date: dt.date | None
    score: float
    snippet: str
    title_html: str
    snippet_text: str = ""
    #: ``(start, end)`` offsets of the marked words in ``snippet_text``.
    snippet_spans: tuple[tuple[int, int], ...] = ()
    #: ``(start, end)`` offsets of the marked words in ``title``.
    title_spans: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "title_html": self.title_html,
            "subject": self.subject,
            "date": self.date.isoformat() if self.date else None,
            "score": round(self.score, 4),
            "snippet": self.snippet,
        }


@dataclass(frozen=True)
class SearchResults:
    """One page of results for a query, with the total and subject facet counts.

    ``facets`` counts the query's matches per subject before any subject filter, so an app can
    show the other subjects beside the chosen one; a filtered ``total`` is that subject's count.
    ``total`` is exact up to at least 10,000; beyond, a long query may count only part of its
    matches (the pages of its commonest words are not all read): then ``total_is_exact`` is
    false, ``total`` and ``facets`` are lower bounds, and :attr:`total_text` reads "10,000+".
    """

    query: str
    hits: list[Hit]
    total: int
    page: int
    limit: int
    suggestion: str | None = None
    facets: dict[str, int] = field(default_factory=dict)
    total_is_exact: bool = True

    @property
    def total_text(self) -> str:
        """The total for people: "1,234", or "10,000+" when it is a lower bound."""
        if self.total_is_exact:
            return f"{self.total:,}"
        return f"{max(self.total // 10_000 * 10_000, 10_000):,}+"

    @property
    def pages(self) -> int:
        return (self.total + self.limit - 1) // self.limit if self.limit else 0

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.hits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "total_is_exact": self.total_is_exact,
            "page": self.page,
            "limit": self.limit,
            "pages": self.pages,
            "suggestion": self.suggestion,
            "facets": dict(self.facets),
            "hits": [hit.to_dict() for hit in self.hits],
        }


@dataclass(frozen=True)
class Completions:
    """Completions of the last, unfinished word of a query, most frequent first.

    ``queries`` are the whole query with that word completed, ready for an autocomplete list.
    """

    query: str
    prefix: str
    words: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "prefix": self.prefix,
            "completions": list(self.words),
            "queries": list(self.queries),
        }


@dataclass(frozen=True)
class IndexStats:
    """Facts about an open index."""

    documents: int
    size_bytes: int
    built_at: str
    schema_version: int
    generation: str
    index_dir: str
    subjects: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
