"""The one small interface between the Searcher and an engine (embedded or cluster).

A *location* says which generation is live and opens it; an *engine* is one open generation
that ranks clauses and returns stored rows. Query parsing, expansion, snippets and the public
types stay in the Searcher, so both engines answer the same query the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from quicksearch.config import Settings
from quicksearch.errors import QuickSearchError
from quicksearch.expansion import Vocabulary
from quicksearch.models import IndexStats
from quicksearch.query import Clause
from quicksearch.ranking import Ranker

__all__ = ["Engine", "GenerationGoneError", "Location", "Rows", "ranked_rows"]


class GenerationGoneError(QuickSearchError):
    """The open generation was dropped under a search (a newer one went live meanwhile and
    a later rebuild pruned it): the Searcher switches to the live one and asks again."""


class Rows(NamedTuple):
    """One page of results: (stored fields, score) per hit, the total, facets, exactness."""

    rows: list[tuple[dict[str, Any], float]]
    total: int
    facets: dict[str, int]
    exact: bool


class Engine(Protocol):
    name: str  # the open generation

    @property
    def vocabulary(self) -> Vocabulary: ...

    def warm(self) -> None: ...

    def close(self) -> None: ...

    def run(
        self,
        clauses: list[Clause],
        excluded: list[Clause],
        phrases: Sequence[tuple[str, ...]],
        excluded_phrases: Sequence[tuple[str, ...]],
        subject_keys: list[str],
        start: int,
        count: int,
        collapse: bool,
        settings: Settings,
    ) -> Rows: ...

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        """Per probe ``(i, term)``: pages whose question holds ``term`` and a term of every
        other group (see ``quicksearch.expansion.in_context``)."""

    def question_phrase(
        self, words: Sequence[str], subject_keys: list[str], start: int, count: int
    ) -> Rows:
        """Pages whose question holds ``words`` side by side (stop words included), shortest
        question first, then by url; a question asked by several pages counts once."""

    def stats(self) -> IndexStats: ...

    def cache_bytes(self) -> dict[str, int]:
        """Bytes, about, held by each cache that queries fill (see ``Settings.cache_bytes``)."""

    def page(self, url: str) -> dict[str, Any] | None:
        """The stored fields of the page at ``url`` (as search rows have them), or None."""


class Location(Protocol):
    def signature(self) -> object:
        """Changes when another generation goes live (cheap; called before each search)."""

    def live_name(self) -> str: ...

    def open(self, settings: Settings) -> Engine: ...

    def expire(self) -> None:
        """Forget any cached idea of the live generation (the next signature() reads it)."""


def ranked_rows(
    ranker: Ranker,
    clauses: list[Clause],
    excluded: list[Clause],
    phrases: tuple[Sequence[tuple[str, ...]], Sequence[tuple[str, ...]]],
    subject_keys: list[str],
    window: tuple[int, int],
    collapse: bool,
    settings: Settings,
    phrase_pages: Callable[[tuple[str, ...]], Clause],
    stored: Callable[[list[int]], list[dict[str, Any]]],
) -> Rows:
    """Both engines' ``run``: one window (``start``, ``count``) of ``ranker``'s list for the
    clauses and the (wanted, excluded) ``phrases`` (``phrase_pages`` finds a phrase's pages), with
    the stored fields of its pages (``stored`` reads them by page number)."""
    start, count = window
    wanted, unwanted = phrases
    allowed = ranker.subject_mask(subject_keys) if subject_keys else None
    ranked = ranker.rank(
        clauses + [phrase_pages(p) for p in wanted],
        excluded=excluded + [phrase_pages(p) for p in unwanted],
        allowed=allowed,
        start=start,
        count=count,
        collapse=collapse,
        settings=settings,
    )
    rows = stored(ranked.docnums)
    return Rows(
        list(zip(rows, ranked.scores, strict=True)),
        ranked.total,
        ranked.facets,
        ranked.total_is_exact,
    )
