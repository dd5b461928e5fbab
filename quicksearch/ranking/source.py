"""What a ranker reads: an engine's :class:`PostingSource`, and the :class:`PostingCache` that
keeps the posting lists a query read, within its share of ``Settings.cache_bytes``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from quicksearch.config import Settings

if TYPE_CHECKING:
    from quicksearch.ranking.pages import Pages

#: Shares of ``Settings.cache_bytes`` for cached posting lists and for the counts of distinct
#: questions per query (the word caches of the analysis chain take 1/8, see caches.py).
_POSTINGS_SHARE = 3 / 4
_COUNTS_SHARE = 1 / 16
_ABSENT_SHARE = 1 / 16
#: What a cached posting list costs beyond its arrays (key, entry and two array headers), and
#: what one cached count costs (key tuple of short strings, an int, a dict slot), about.
_ENTRY_BYTES = 400
_COUNT_BYTES = 200
#: Questions' stems kept for the proximity bonus (a few hundred bytes each).
_QUESTION_CACHE = 50_000
#: Totals (and facets) are exact up to at least this many matches; beyond, a long query may
#: skip its commonest words' lists (they cannot lift a page into the results) and report a
#: lower bound.
TOTAL_EXACT_UP_TO = 10_000
EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.float32)


class Postings(NamedTuple):
    """One term's posting list as a source reads it: pages (ascending), frequencies, the
    largest frequency and the shortest field length among its pages; ``df`` when the source
    knows the collection-wide document frequency (else it is counted from the pages)."""

    ids: np.ndarray
    tf: np.ndarray
    most: float
    shortest: float
    df: int | None = None


class PostingSource(Protocol):
    """What a ranker scores: one engine's pages, their statistics and posting lists. The
    embedded engine's reads an index generation; the cluster's, the candidates of a query."""

    size: int  # pages, numbered 0..size-1
    live: np.ndarray  # per page: not deleted
    lengths: dict[str, np.ndarray]  # per field, each page's (quantized) length
    subjects: Sequence[Any]  # per page
    question_keys: Sequence[Any]  # per page
    averages: dict[str, float]  # per field, the collection's average length
    documents: int  # live pages of the whole collection (the idf's N)

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Postings | None]:
        """Per ``(field, term)`` pair, its postings; None for a term in no page of the field.
        All at once: a source may read them in one request."""

    def clause_count(self, terms: Sequence[str]) -> int | None:
        """Pages holding any of ``terms``, when the source knows it better than its lists."""

    def question_df(self, term: str) -> int | None:
        """Pages whose question holds ``term``, when the source knows it better."""

    def question_terms(self, docnum: int) -> str:
        """A page's question as index terms, space-separated (the proximity bonus reads it)."""


class Entry(NamedTuple):
    """A posting list as cached: pages, frequencies, live document frequency, and the
    largest frequency and shortest field length among its pages. The cache keeps it as a plain
    tuple of arrays and numbers, which the garbage collector stops tracking (it untracks exact
    tuples only, not a NamedTuple's): a full cache adds nothing to the walk of a full
    collection (18,500 tracked entries made one 14 ms here)."""

    ids: np.ndarray
    tf: np.ndarray
    df: int
    max_tf: float
    min_length: float
    #: Live pages whose question no other page asks: questions the list surely counts.
    distinct: int = 0


_NO_POSTINGS = Entry(EMPTY_IDS, _EMPTY_TF, 0, 0.0, 0.0)


def _entry_bytes(entry: Entry) -> int:
    return int(entry.ids.nbytes + entry.tf.nbytes) + _ENTRY_BYTES


class PostingCache:
    """The posting lists queries read from a :class:`PostingSource`, and what is counted over
    them (distinct questions, questions holding words), each cache within its share of
    ``settings.cache_bytes``. Thread-safe."""

    def __init__(self, source: PostingSource, pages: Pages, settings: Settings) -> None:
        self.source = source
        self.size = source.size
        self.live = source.live
        self.deletions = not bool(self.live.all())
        self._pages = pages
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()
        self._cached = 0  # bytes
        budget = settings.cache_bytes
        self._cache_limit = int(budget * _POSTINGS_SHARE)
        self._counts_limit = max(1_024, int(budget * _COUNTS_SHARE) // _COUNT_BYTES)
        # (field, term) pairs in no page: a set of string pairs (which the collector does not
        # track) instead of an entry each, cleared when full.
        self._absent: set[tuple[str, str]] = set()
        self._absent_limit = max(1_024, int(budget * _ABSENT_SHARE) // _COUNT_BYTES)
        self._questions: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._counts: dict[tuple[str, ...], int] = {}

    def clear(self) -> None:
        """Forget every cached list (entries remember what they count)."""
        with self._lock:
            self._cache.clear()
            self._cached = 0

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global document numbers (ascending) and term frequencies of ``term`` in ``field``."""
        entry = self.get(field, term)
        return entry.ids, entry.tf

    def get(self, field: str, term: str) -> Entry:
        key = (field, term)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return Entry._make(hit)
            if key in self._absent:
                return _NO_POSTINGS
        self.prefetch([(field, term)])
        with self._lock:
            hit = self._cache.get(key)
        return _NO_POSTINGS if hit is None else Entry._make(hit)

    def prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Read the posting lists of ``(field, term)`` pairs that are not cached, each field's
        at once."""
        with self._lock:
            missing = [
                p for p in dict.fromkeys(pairs) if p not in self._cache and p not in self._absent
            ]
        if missing:
            for (field, term), read in zip(missing, self.source.read(missing), strict=True):
                if read is None:
                    with self._lock:
                        if len(self._absent) >= self._absent_limit:
                            self._absent.clear()
                        self._absent.add((field, term))
                    continue
                entry = self._entry(read)
                with self._lock:
                    self._cache[(field, term)] = tuple(entry)
                    self._cached += _entry_bytes(entry)
                    while self._cached > self._cache_limit and len(self._cache) > 1:
                        _, old = self._cache.popitem(last=False)
                        self._cached -= _entry_bytes(Entry._make(old))

    def cache_bytes(self) -> dict[str, int]:
        """Bytes held by the caches that queries fill, about."""
        with self._lock:
            return {
                "postings": self._cached,
                "counts": len(self._counts) * _COUNT_BYTES,
                "absent": len(self._absent) * _COUNT_BYTES,
            }

    def _entry(self, read: Postings) -> Entry:
        ids, tf = read.ids, read.tf
        if read.df is not None:  # the source knows the collection's statistics
            return Entry(ids, tf, read.df, read.most, read.shortest)
        # Deleted pages keep their postings until a merge: count live documents only, so an
        # index with deletions scores like one built without those pages.
        df = int(np.count_nonzero(self.live[ids])) if self.deletions else len(ids)
        # Questions it surely counts: at least its pages less every repeated page; exact (a
        # pass over the list) only where that could matter.
        distinct = df - self._pages.repeated_count
        if distinct < TOTAL_EXACT_UP_TO <= df:
            plain = ~self._pages.repeated[ids]
            if self.deletions:
                plain &= self.live[ids]
            distinct = int(np.count_nonzero(plain))
        return Entry(ids, tf, df, read.most, read.shortest, max(0, distinct))

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        """For each probe ``(i, term)``: the live pages whose question holds ``term`` and, for
        every other group ``j``, at least one of ``groups[j]``'s terms."""
        # All the lists read at once: one search of each side file's term table.
        self.prefetch(
            [("question", t) for group in groups for t in group]
            + [("question", t) for _, t in probes]
        )
        # Boolean masks over the pages: no sorting, whatever the lists' lengths.
        masks = []
        for group in groups:
            mask = np.zeros(self.size, dtype=bool)
            for term in group:
                ids = self.get("question", term).ids
                if len(ids):
                    mask[ids] = True
            masks.append(mask)
        others: dict[int, np.ndarray] = {}
        counts = []
        for i, term in probes:
            rest = others.get(i)
            if rest is None:
                rest = self.live.copy()
                for j, mask in enumerate(masks):
                    if j != i:
                        rest &= mask
                others[i] = rest
            ids = self.get("question", term).ids
            counts.append(int(np.count_nonzero(rest[ids])) if len(ids) else 0)
        return counts

    def question_df(self, term: str) -> int:
        """Pages (deleted ones too) whose question holds ``term``."""
        known = self.source.question_df(term)
        return known if known is not None else len(self.get("question", term).ids)

    def question_stems(self, docnum: int) -> tuple[str, ...]:
        with self._lock:
            hit = self._questions.get(docnum)
            if hit is not None:
                self._questions.move_to_end(docnum)
                return hit
        stems = tuple(self.source.question_terms(docnum).split())
        with self._lock:
            self._questions[docnum] = stems
            if len(self._questions) > _QUESTION_CACHE:
                self._questions.popitem(last=False)
        return stems

    def clause_count(self, terms: tuple[str, ...], lists: list[np.ndarray]) -> int:
        """Live documents holding any of ``terms`` (their lists ``lists``), cached by the
        terms (common words recur), counted without merging the lists: each list's pages not
        in an earlier, longer one."""
        known = self.source.clause_count(terms)
        if known is not None:
            return known
        with self._lock:
            hit = self._counts.get(terms)
        if hit is not None:
            return hit
        lists = sorted(lists, key=len, reverse=True)
        count = 0
        for i, ids in enumerate(lists):
            fresh = np.ones(len(ids), dtype=bool)
            for earlier in lists[:i]:
                fresh &= ~isin_sorted(ids, earlier)
            new = ids[fresh] if i else ids
            count += int(np.count_nonzero(self.live[new])) if self.deletions else len(new)
        with self._lock:
            if len(self._counts) >= self._counts_limit:
                self._counts.clear()
            self._counts[terms] = count
        return count


def isin_sorted(docs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``docs`` are in ``ids`` (ascending)."""
    if not len(ids) or not len(docs):
        return np.zeros(len(docs), dtype=bool)
    at = np.searchsorted(ids, docs)
    np.minimum(at, len(ids) - 1, out=at)
    return ids[at] == docs
