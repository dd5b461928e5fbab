"""BM25F ranking with work in proportion to the answer, not the corpus.

Postings come from the side files beside each segment (see :mod:`quicksearch.postings`): a
posting list is a slice of a mapped array, and each list's best possible score is known from
its statistics (largest frequency, shortest field). A query is evaluated in one of three ways,
all giving the ranking that scoring every matching page would (``prune=False`` does that; a
test compares the two):

- **all words** (the common case): the pages that have every query word are found from the
  rarest word's pages, checking the others by binary search in their lists; only those pages
  are scored.
- **some words, short query** (too few pages have them all): pages rank by how many words they
  match, then by score; each page is bounded from the lists that hold it, the best-bounded
  ones set the bar, and only pages whose bound reaches it are scored.
- **some words, long query** (a pasted question): MaxScore over posting lists. The commonest
  words' lists, whose best scores together stay below the bar, are never read, only probed for
  the pages that are scored; the other pages are bounded by their own scores in the lists read.

Totals and subject facets are counted over sets of pages, exact up to at least
TOTAL_EXACT_UP_TO; a long query that skipped a list larger than that reports lower bounds.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from quicksearch.config import Settings
from quicksearch.fields import EXACT_FIELD, TEXT_FIELDS, subject_key
from quicksearch.query import Clause

__all__ = ["PostingSource", "Postings", "Ranked", "Ranker"]

#: Shares of ``Settings.cache_bytes`` for cached posting lists and for the counts of distinct
#: questions per query (the word caches of the analysis chain take 1/8, see caches.py).
_POSTINGS_SHARE = 3 / 4
_COUNTS_SHARE = 1 / 16
_ABSENT_SHARE = 1 / 16
#: What a cached posting list costs beyond its arrays (key, entry and two array headers), and
#: what one cached count costs (key tuple of short strings, an int, a dict slot), about.
_ENTRY_BYTES = 400
_COUNT_BYTES = 200
# In any-word mode, queries of up to this many words rank by matched words first.
_STRICT_COVERAGE_UP_TO = 4
#: Results re-ranked by the proximity bonus (read from stored questions).
_PROXIMITY_DEPTH = 50
#: Questions' stems kept for the proximity bonus (a few hundred bytes each).
_QUESTION_CACHE = 50_000
#: Totals (and facets) are exact up to at least this many matches; beyond, a long query may
#: skip its commonest words' lists (they cannot lift a page into the results) and report a
#: lower bound.
TOTAL_EXACT_UP_TO = 10_000
#: Pages scored in full to set the bar before pruning (at least four times the depth).
_SEED = 50
#: The depth at which a long query decides which common words' lists it skips (and so what
#: its lower-bound total and facets count): fixed, so every window reports the same counts.
#: A window that reaches deeper is ranked exactly, with those same counts.
_LONG_DEPTH = 10
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.float32)


def _entry_bytes(entry: _Entry) -> int:
    return int(entry.ids.nbytes + entry.tf.nbytes) + _ENTRY_BYTES


@dataclass(frozen=True)
class Ranked:
    """Document numbers of one page, their scores, the total and subject counts (exact, or
    lower bounds when ``total_is_exact`` is false: only above TOTAL_EXACT_UP_TO)."""

    docnums: list[int]
    scores: list[float]
    total: int
    facets: dict[str, int]
    conjunctive: bool
    total_is_exact: bool = True


class _Entry(NamedTuple):
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


#: A set of pages this share of the collection or larger is handled as a mask over every page
#: rather than as sorted lists (see ``_plan_ids`` and ``_clause_scores``).
_DENSE_SHARE = 8

_NO_POSTINGS = _Entry(_EMPTY_IDS, _EMPTY_TF, 0, 0.0, 0.0)


@dataclass
class _List:
    """One term's postings in one field, with what scoring them needs for one query."""

    ids: np.ndarray  # global document numbers, ascending (int32)
    tf: np.ndarray  # term frequencies (float32)
    coef: float  # boost * idf
    norm: np.ndarray  # per document, k1 * (1 - b + b * length / avg)
    k1: float
    ub: float  # the largest score any page of this list reaches (a hair above)
    distinct: int = 0  # see _Entry.distinct

    def values(self, at: np.ndarray) -> np.ndarray:
        """Scores of the postings at positions ``at``."""
        tf = self.tf[at]
        return self.coef * tf * (self.k1 + 1.0) / (tf + self.norm[self.ids[at]])

    def probe(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``docs`` (ascending) have this term, and their scores (there, in order).
        Binary search from the shorter side: the documents into the list, or the reverse."""
        ids = self.ids
        found = np.zeros(len(docs), dtype=bool)
        if not len(ids) or not len(docs):
            return found, np.zeros(0, dtype=np.float32)
        if len(docs) <= 4 * len(ids):
            at = np.searchsorted(ids, docs)
            np.minimum(at, len(ids) - 1, out=at)
            found = ids[at] == docs
            at = at[found]
        else:
            where = np.searchsorted(docs, ids)
            np.minimum(where, len(docs) - 1, out=where)
            hit = docs[where] == ids
            found[where[hit]] = True
            at = np.flatnonzero(hit)
        return found, self.values(at)


#: A posting list in a query: (pages, best score as weighted, clause number, the list or None
#: for a phrase's pages, the weight its scores are multiplied by).
_Part = tuple[np.ndarray, float, int, _List | None, float]


@dataclass(frozen=True)
class _Rerank:
    """Bonuses earned in the question by the first results (see ``Ranker._proximity``)."""

    pairs: dict[tuple[str, str], float]
    #: Per query word, its terms; a question holding them in this order earns order_bonus.
    order: tuple[frozenset[str], ...] = ()
    order_bonus: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.pairs) or bool(self.order and self.order_bonus)


def _in_order(stems: Sequence[str], order: Sequence[frozenset[str]]) -> bool:
    """Whether ``stems`` hold a term of each group, the groups in this order (other words
    between them allowed)."""
    at = 0
    for term in stems:
        if term in order[at]:
            at += 1
            if at == len(order):
                return True
    return False


@dataclass
class _Plan:
    """A clause's posting lists: per variant, its weight and one list per field."""

    clause: Clause
    variants: list[tuple[float, list[_List]]]
    docs: np.ndarray | None  # phrase filter, ascending
    ub: float
    size: int  # postings in all its lists (an upper bound of its pages)

    def lists(self) -> list[_List]:
        return [lst for _, lists in self.variants for lst in lists]


@dataclass(frozen=True)
class _Bounded:
    """The lower-bound counts of a long query whose window is ranked exactly."""

    total: int
    facets: dict[str, int]


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

    def read(self, field: str, terms: Sequence[str]) -> list[Postings | None]:
        """Per term, its postings in ``field``; None for a term in no page at all."""

    def clause_count(self, terms: Sequence[str]) -> int | None:
        """Pages holding any of ``terms``, when the source knows it better than its lists."""

    def question_df(self, term: str) -> int | None:
        """Pages whose question holds ``term``, when the source knows it better."""

    def question_terms(self, docnum: int) -> str:
        """A page's question as index terms, space-separated (the proximity bonus reads it)."""


class _Memo:
    """Keys and scores of pages (ascending ids), each page scored once however often asked."""

    def __init__(self, score: Any) -> None:
        self._score = score
        self._done: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __call__(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = np.zeros(len(docs), dtype=np.float64)
        scores = np.zeros(len(docs), dtype=np.float32)
        todo = np.ones(len(docs), dtype=bool)
        for done, done_key, done_scores in self._done:
            at = np.searchsorted(done, docs)
            np.minimum(at, len(done) - 1, out=at)
            hit = todo & (done[at] == docs)
            key[hit], scores[hit] = done_key[at[hit]], done_scores[at[hit]]
            todo &= ~hit
        if todo.any():
            fresh = docs[todo]
            key[todo], scores[todo] = self._score(fresh)
            self._done.append((fresh, key[todo], scores[todo]))
        return key, scores


class Ranker:
    """Scores queries over a :class:`PostingSource` (not thread-safe: callers lock)."""

    def __init__(self, source: PostingSource, settings: Settings) -> None:
        self.source = source
        self.settings = settings
        self.size = source.size
        self._live = source.live
        self._lengths = source.lengths
        self._setup(source.subjects, source.question_keys, source.averages)
        self.documents = source.documents

    def _setup(
        self, subjects: Sequence[Any], keys: Sequence[Any], averages: dict[str, float]
    ) -> None:
        """What the ranker derives from its pages' subjects and question keys (``size``,
        ``_live`` and ``_lengths`` set): counts, codes and groups, and the empty caches."""
        self._deletions = not bool(self._live.all())
        self._avg = averages
        names, codes = np.unique(
            np.array(subjects or [""] * self.size, dtype=object), return_inverse=True
        )
        self._subject_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        self._subject_codes = codes.astype(np.int32)
        if keys:
            keys_array = np.array(keys, dtype=object)
            self._question_codes = np.unique(keys_array, return_inverse=True)[1].astype(np.int32)
        else:
            self._question_codes = np.arange(self.size, dtype=np.int32)
        # Pages whose question another page repeats: the only ones collapsing can drop.
        shared = np.bincount(self._question_codes, minlength=1) > 1
        self._repeated = shared[self._question_codes] if self.size else np.zeros(0, dtype=bool)
        self._any_repeated = bool(self._repeated.any())
        self._repeated_count = int(np.count_nonzero(self._repeated))
        # The repeated pages grouped by question, and by (subject, question): a large match set
        # counts its distinct questions with one pass over these groups instead of a sort.
        repeated = np.flatnonzero(self._repeated)
        self._by_question = _Groups(repeated, self._question_codes[repeated].astype(np.int64))
        width = int(self._question_codes.max()) + 1 if self.size else 1
        pair_codes = self._subject_codes[repeated].astype(np.int64) * width + self._question_codes[
            repeated
        ].astype(np.int64)
        self._by_pair = _Groups(repeated, pair_codes)
        self._pair_subjects = (self._by_pair.codes // width).astype(np.int64)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()
        self._cached = 0  # bytes
        self._cache_limit = int(self.settings.cache_bytes * _POSTINGS_SHARE)
        budget = self.settings.cache_bytes
        self._counts_limit = max(1_024, int(budget * _COUNTS_SHARE) // _COUNT_BYTES)
        # (field, term) pairs in no page: a set of string pairs (which the collector does not
        # track) instead of an entry each, cleared when full.
        self._absent: set[tuple[str, str]] = set()
        self._absent_limit = max(1_024, int(budget * _ABSENT_SHARE) // _COUNT_BYTES)
        self._norms: dict[tuple[str, float, float], np.ndarray] = {}
        self._questions: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._masks: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._counts: dict[tuple[str, ...], int] = {}

    # -- postings ----------------------------------------------------------------------------

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global document numbers (ascending) and term frequencies of ``term`` in ``field``."""
        entry = self._postings(field, term)
        return entry.ids, entry.tf

    def _postings(self, field: str, term: str) -> _Entry:
        key = (field, term)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return _Entry._make(hit)
            if key in self._absent:
                return _NO_POSTINGS
        self._prefetch([(field, term)])
        with self._lock:
            hit = self._cache.get(key)
        return _NO_POSTINGS if hit is None else _Entry._make(hit)

    def _prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Read the posting lists of ``(field, term)`` pairs that are not cached, each field's
        at once."""
        with self._lock:
            missing = [
                p for p in dict.fromkeys(pairs) if p not in self._cache and p not in self._absent
            ]
        by_field: dict[str, list[str]] = {}
        for field, term in missing:
            by_field.setdefault(field, []).append(term)
        for field, terms in by_field.items():
            for term, read in zip(terms, self.source.read(field, terms), strict=True):
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
                        self._cached -= _entry_bytes(_Entry._make(old))

    def cache_bytes(self) -> dict[str, int]:
        """Bytes held by the caches that queries fill, about."""
        with self._lock:
            return {
                "postings": self._cached,
                "counts": len(self._counts) * _COUNT_BYTES,
                "absent": len(self._absent) * _COUNT_BYTES,
            }

    def _entry(self, read: Postings) -> _Entry:
        ids, tf = read.ids, read.tf
        if read.df is not None:  # the source knows the collection's statistics
            return _Entry(ids, tf, read.df, read.most, read.shortest)
        # Deleted pages keep their postings until a merge: count live documents only, so an
        # index with deletions scores like one built without those pages.
        df = int(np.count_nonzero(self._live[ids])) if self._deletions else len(ids)
        # Questions it surely counts: at least its pages less every repeated page; exact (a
        # pass over the list) only where that could matter.
        distinct = df - self._repeated_count
        if distinct < TOTAL_EXACT_UP_TO <= df:
            plain = ~self._repeated[ids]
            if self._deletions:
                plain &= self._live[ids]
            distinct = int(np.count_nonzero(plain))
        return _Entry(ids, tf, df, read.most, read.shortest, max(0, distinct))

    def _idf(self, df: int) -> float:
        n = self.documents
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _norm(self, field: str, k1: float, b: float) -> np.ndarray:
        key = (field, k1, b)
        norm = self._norms.get(key)
        if norm is None:
            norm = k1 * (1.0 - b + b * self._lengths[field] / self._avg[field])
            self._norms[key] = norm
        return norm

    def _list(
        self, field: str, term: str, boost: float, s: Settings, df: int | None = None
    ) -> _List:
        entry = self._postings(field, term)
        b = s.bm25_b if field in ("keywords", "answer") else s.question_b
        k1 = s.bm25_k1
        norm = self._norm(field, k1, b)
        coef = boost * self._idf(entry.df if df is None else df) if entry.df else 0.0
        # No page of the list scores above its largest frequency in its shortest field (the
        # score grows with the one and falls with the other); a hair above, for rounding.
        most = entry.max_tf
        shortest_norm = k1 * (1.0 - b + b * entry.min_length / self._avg[field])
        peak = most * (k1 + 1.0) / (most + shortest_norm) if most else 0.0
        return _List(
            entry.ids, entry.tf, coef, norm, k1, coef * peak * (1.0 + 1e-5), entry.distinct
        )

    def _plan(self, clause: Clause, s: Settings) -> _Plan:
        boosts = s.field_boosts
        variants = []
        ub = 0.0
        size = 0
        fields = [f for f in TEXT_FIELDS if f in self._lengths]
        shared: dict[str, int] = {}
        if clause.shared_idf:
            for field in fields:
                dfs = sum(self._postings(field, t).df for t, _ in clause.variants)
                shared[field] = min(dfs, self.documents)
        for term, weight in clause.variants:
            lists = [
                self._list(field, term, boosts[field], s, shared.get(field)) for field in fields
            ]
            lists = [lst for lst in lists if len(lst.ids)]
            variants.append((weight, lists))
            bound = weight * sum(lst.ub for lst in lists)
            ub = ub + bound if clause.phrase else max(ub, bound)
            size += sum(len(lst.ids) for lst in lists)
        docs = None
        if clause.docs is not None:
            docs = np.unique(np.asarray(clause.docs, dtype=np.int32))
            size = min(size, len(docs))
        return _Plan(clause, variants, docs, ub * clause.weight, size)

    # -- evaluation --------------------------------------------------------------------------

    def _member(self, plan: _Plan, docs: np.ndarray) -> np.ndarray:
        found = np.zeros(len(docs), dtype=bool)
        for lst in plan.lists():
            found |= lst.probe(docs)[0]
        if plan.docs is not None:
            found &= _isin_sorted(docs, plan.docs)
        return found

    def _plan_ids(self, plan: _Plan) -> np.ndarray:
        """The documents of a clause, ascending."""
        lists = plan.lists()
        if not lists:
            ids = _EMPTY_IDS
        elif len(lists) == 1:
            ids = lists[0].ids
        elif plan.size * _DENSE_SHARE > self.size:
            # Many postings (a prefix of a common word): marking them is several times faster
            # than sorting them (np.unique: 9 ms of a 30 ms search for "con").
            mask = np.zeros(self.size, dtype=bool)
            for lst in lists:
                mask[lst.ids] = True
            ids = np.flatnonzero(mask).astype(np.int32)
        else:
            ids = np.unique(np.concatenate([lst.ids for lst in lists]))
        if plan.docs is not None:
            ids = ids[_isin_sorted(ids, plan.docs)]
        return ids

    def _plan_mask(self, plan: _Plan) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        for lst in plan.lists():
            mask[lst.ids] = True
        if plan.docs is not None:
            keep = np.zeros(self.size, dtype=bool)
            keep[plan.docs] = True
            mask &= keep
        return mask

    def _conjunction(self, plans: list[_Plan], excluded: list[_Plan]) -> np.ndarray:
        """Live, not excluded documents that match every clause, ascending."""
        order = sorted(range(len(plans)), key=lambda i: plans[i].size)
        docs = self._plan_ids(plans[order[0]])
        if self._deletions and len(docs):
            docs = docs[self._live[docs]]
        for i in order[1:]:
            if not len(docs):
                break
            docs = docs[self._member(plans[i], docs)]
        for plan in excluded:
            if len(docs):
                docs = docs[~self._member(plan, docs)]
        return docs

    def _clause_scores(self, plan: _Plan, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A clause's score for each of ``docs`` and whether it matches them."""
        best = np.zeros(len(docs), dtype=np.float32)
        present = np.zeros(len(docs), dtype=bool)
        # Many pages: each list is scattered once over every page and the pages read back,
        # instead of a binary search per list (the same sums, added in the same order).
        dense = len(docs) * _DENSE_SHARE > self.size
        for weight, lists in plan.variants:
            if dense:
                spread = np.zeros(self.size, dtype=np.float32)
                held = np.zeros(self.size, dtype=bool)
                for lst in lists:
                    spread[lst.ids] += lst.values(np.arange(len(lst.ids)))
                    held[lst.ids] = True
                scores = spread[docs]
                present |= held[docs]
            else:
                scores = np.zeros(len(docs), dtype=np.float32)
                for lst in lists:
                    found, values = lst.probe(docs)
                    scores[found] += values
                    present |= found
            if weight != 1.0:
                scores = scores * weight
            if plan.clause.phrase:
                best += scores
            else:
                np.maximum(best, scores, out=best)  # a word counts once, by its best form
        if plan.clause.weight != 1.0:
            best *= np.float32(plan.clause.weight)
        if plan.docs is not None:
            keep = _isin_sorted(docs, plan.docs)
            present &= keep
            best = np.where(keep, best, 0.0).astype(np.float32)
        return best, present

    def _score(
        self,
        plans: list[_Plan],
        docs: np.ndarray,
        s: Settings,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores (bonuses included) of ``docs``, and per page the summed ``weights`` of the
        clauses it matches (each clause 1 without them: how many it matches)."""
        total = np.zeros(len(docs), dtype=np.float32)
        matched = np.zeros(len(docs), dtype=np.float64)
        for i, plan in enumerate(plans):
            scores, present = self._clause_scores(plan, docs)
            total += scores
            matched += present * (1.0 if weights is None else weights[i])
        if plans:
            total += self._bonus(plans, docs, s)
        return total, matched

    def _parts(self, plans: list[_Plan]) -> list[_Part]:
        """Every posting list of the clauses (a phrase: its pages), with its weights."""
        parts: list[_Part] = []
        for i, plan in enumerate(plans):
            if plan.docs is not None:  # a phrase: only where its words stand together
                parts.append((plan.docs, plan.ub, i, None, 1.0))
                continue
            for weight, lists in plan.variants:
                factor = weight * plan.clause.weight
                for lst in lists:
                    parts.append((lst.ids, lst.ub * factor, i, lst, factor))
        return parts

    def _bonus(self, plans: list[_Plan], docs: np.ndarray, s: Settings) -> np.ndarray:
        """Extra score for query words written exactly as in a question and for a question
        that holds every query word (see also :meth:`_proximity`)."""
        bonus = np.zeros(len(docs), dtype=np.float32)
        words = [p for p in plans if not p.clause.phrase]
        if s.exact_boost:
            boost = s.question_boost * s.exact_boost
            for plan in words:
                if plan.clause.word and EXACT_FIELD in self._lengths:
                    lst = self._list(EXACT_FIELD, plan.clause.word, boost, s)
                    found, values = lst.probe(docs)
                    bonus[found] += values
        if s.question_cover_bonus and len(words) > 1:
            covered = np.ones(len(docs), dtype=bool)
            for plan in words:
                terms = [t for t, _ in plan.clause.variants]
                covered &= self._holding(docs, [self._postings("question", t).ids for t in terms])
            bonus += covered * np.float32(s.question_cover_bonus)
        return bonus

    def _holding(self, docs: np.ndarray, lists: list[np.ndarray]) -> np.ndarray:
        """Which of ``docs`` (ascending) are in any of ``lists`` (each ascending)."""
        if len(docs) * _DENSE_SHARE > self.size:  # many pages: one mask, no binary searches
            mask = np.zeros(self.size, dtype=bool)
            for ids in lists:
                mask[ids] = True
            return mask[docs]
        held = np.zeros(len(docs), dtype=bool)
        for ids in lists:
            held |= _isin_sorted(docs, ids)
        return held

    def _bonus_bound(self, plans: list[_Plan], s: Settings) -> float:
        bound = 0.0
        words = [p for p in plans if not p.clause.phrase]
        if s.exact_boost:
            boost = s.question_boost * s.exact_boost
            for plan in words:
                if plan.clause.word and EXACT_FIELD in self._lengths:
                    bound += self._list(EXACT_FIELD, plan.clause.word, boost, s).ub
        if s.question_cover_bonus and len(words) > 1:
            bound += s.question_cover_bonus
        return bound

    def _rerank(self, clauses: Sequence[Clause], settings: Settings) -> _Rerank:
        """What re-ranks the head of the results: neighbouring query words, and the query's
        words in its order, in the question."""
        words = [c for c in clauses if not c.phrase]
        order: tuple[frozenset[str], ...] = ()
        if settings.question_order_bonus and len(words) > 1:
            order = tuple(frozenset(t for t, _ in c.variants) for c in words)
        return _Rerank(self._pairs(clauses, settings), order, settings.question_order_bonus)

    def _pairs(self, clauses: Sequence[Clause], settings: Settings) -> dict[tuple[str, str], float]:
        """Neighbouring query words, both ways round, with the bonus a question earns by
        holding them side by side: the question's weight times ``pairs_boost`` times the
        rarer word's idf among questions (a stand-in for the pair's own idf)."""
        if not settings.pairs_boost:
            return {}
        words = [c.variants[0][0] for c in clauses if not c.phrase]
        weight = settings.question_boost * settings.pairs_boost
        pairs: dict[tuple[str, str], float] = {}
        for a, b in itertools.pairwise(words):
            if a == b:
                continue
            rarest = min(self._question_df(a), self._question_df(b))
            if rarest:
                pairs[(a, b)] = pairs[(b, a)] = weight * self._idf(rarest)
        return pairs

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        """For each probe ``(i, term)``: the live pages whose question holds ``term`` and, for
        every other group ``j``, at least one of ``groups[j]``'s terms."""
        # All the lists read at once: one search of each side file's term table.
        self._prefetch(
            [("question", t) for group in groups for t in group]
            + [("question", t) for _, t in probes]
        )
        # Boolean masks over the pages: no sorting, whatever the lists' lengths.
        masks = []
        for group in groups:
            mask = np.zeros(self.size, dtype=bool)
            for term in group:
                ids = self._postings("question", term).ids
                if len(ids):
                    mask[ids] = True
            masks.append(mask)
        others: dict[int, np.ndarray] = {}
        counts = []
        for i, term in probes:
            rest = others.get(i)
            if rest is None:
                rest = self._live.copy()
                for j, mask in enumerate(masks):
                    if j != i:
                        rest &= mask
                others[i] = rest
            ids = self._postings("question", term).ids
            counts.append(int(np.count_nonzero(rest[ids])) if len(ids) else 0)
        return counts

    def is_live(self, docnum: int) -> bool:
        return bool(self._live[docnum])

    def question_code(self, docnum: int) -> int:
        """The same number for pages asking the same question."""
        return int(self._question_codes[docnum])

    def _question_df(self, term: str) -> int:
        """Pages (deleted ones too) whose question holds ``term``."""
        known = self.source.question_df(term)
        return known if known is not None else len(self._postings("question", term).ids)

    def _question_stems(self, docnum: int) -> tuple[str, ...]:
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

    def _proximity(self, docnums: np.ndarray, rerank: _Rerank) -> np.ndarray:
        """The bonus of each document whose question holds query words side by side, and
        every query word in the query's order, read from the stored questions (only the first
        results are re-ranked by it)."""
        bonus = np.zeros(len(docnums), dtype=np.float64)
        pairs = rerank.pairs
        order = rerank.order if rerank.order_bonus else ()
        for i, docnum in enumerate(docnums.tolist()):
            stems = self._question_stems(docnum)
            if pairs:
                bonus[i] = sum(pairs.get(pair, 0.0) for pair in set(itertools.pairwise(stems)))
            if order and _in_order(stems, order):
                bonus[i] += rerank.order_bonus
        return bonus

    # -- queries -----------------------------------------------------------------------------

    def rank(
        self,
        clauses: Sequence[Clause],
        *,
        excluded: Sequence[Clause] = (),
        allowed: np.ndarray | None = None,
        start: int = 0,
        count: int = 10,
        collapse: bool = True,
        settings: Settings | None = None,
        prune: bool = True,
    ) -> Ranked:
        """Rank documents for ``clauses``: those matching all of them, or, when they are fewer
        than ``settings.partial_match_threshold``, those matching any, more matched clauses
        first. ``start`` and ``count`` only cut a window out of that list. ``allowed``
        is a filter mask. With ``collapse``, pages asking the same question count once, as the
        best of them. ``settings`` overrides the ranker's weights for this query.
        ``prune=False`` scores every matching page (the reference the pruning is tested
        against); the ranking is the same."""
        s = settings or self.settings
        if not clauses:
            return self._filter_only(excluded, allowed, start, count, collapse)
        fields = [f for f in TEXT_FIELDS if f in self._lengths]
        self._prefetch(
            [(f, t) for c in (*clauses, *excluded) for t, _ in c.variants for f in fields]
            + [(EXACT_FIELD, c.word) for c in clauses if c.word and EXACT_FIELD in self._lengths]
        )
        plans = [self._plan(c, s) for c in clauses]
        excluded_plans = [self._plan(c, s) for c in excluded]
        n = len(plans)
        pairs = self._rerank(clauses, s)
        wanted = start + count
        depth = max(wanted, _PROXIMITY_DEPTH if pairs else 0)

        # The pages with every word number at most the smallest clause's postings: when those
        # cannot reach the threshold (a long query with a rare word), they are not worth listing.
        threshold = s.partial_match_threshold
        fewest = min(p.size for p in plans)
        conj = self._conjunction(plans, excluded_plans) if n == 1 or fewest >= threshold else None
        if conj is not None and (n == 1 or len(conj) >= threshold):
            facets = self._facets(conj, collapse)
            docs = conj if allowed is None else conj[allowed[conj]]
            total = self._distinct(docs) if collapse else len(docs)
            if start >= total:
                return Ranked([], [], total, facets, True)
            scores = self._score(plans, docs, s)[0]
            key = scores.astype(np.float64)
            return self._page(
                docs, key, scores, total, facets, True, start, count, depth, collapse, pairs
            )

        args = (plans, excluded_plans, s, allowed, start, count, depth, collapse, pairs)
        if n > _STRICT_COVERAGE_UP_TO and prune and allowed is None:
            ranked = self._rank_long(plans, excluded_plans, s, start, count, depth, collapse, pairs)
            if isinstance(ranked, Ranked):
                return ranked
            if ranked is not None:  # ranked exactly, counted as every window counts it
                exact = self._rank_partial(*args, conj, fewest, prune)
                return dataclasses.replace(
                    exact, total=ranked.total, facets=ranked.facets, total_is_exact=False
                )
        return self._rank_partial(*args, conj, fewest, prune)

    def _rank_partial(
        self,
        plans: list[_Plan],
        excluded_plans: list[_Plan],
        s: Settings,
        allowed: np.ndarray | None,
        start: int,
        count: int,
        depth: int,
        collapse: bool,
        pairs: _Rerank,
        conj: np.ndarray | None,
        fewest: int,
        prune: bool,
    ) -> Ranked:
        """The pages with any of the words: more matched words first for short queries,
        scores scaled by the share of the query matched for long ones."""
        n = len(plans)
        # Too few pages have every word: those with some of the words follow (after them, for
        # short queries). Decided on the unfiltered matches and the threshold only, so every
        # window of the list is cut from the same list and a subject's facet is its total.
        parts = self._parts(plans)
        sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
        joined = np.concatenate([p[0] for p in parts]) if parts else _EMPTY_IDS
        # Per page, the best scores of the lists that hold it, summed: a bound of its score
        # (a page with a word only in its answer is bounded by the answer's best alone). One
        # pass of bincount over all the lists; a tiny floor marks every listed page.
        bound_map = np.bincount(
            joined,
            weights=np.repeat(np.array([p[1] for p in parts]) + 1e-9, sizes),
            minlength=self.size,
        )
        matched = bound_map > 0
        matched &= self._live
        for plan in excluded_plans:
            matched &= ~self._plan_mask(plan)
        facets = self._facets(np.flatnonzero(matched), collapse)
        if allowed is not None:
            matched &= allowed
        candidates = np.flatnonzero(matched)
        del matched
        total = self._distinct(candidates) if collapse else len(candidates)
        if start >= total:
            return Ranked([], [], total, facets, False)
        if conj is None and len(candidates) <= fewest:
            conj = self._conjunction(plans, excluded_plans)
        partial = conj is None or len(candidates) > len(
            conj if allowed is None else conj[allowed[conj]]
        )
        long_query = n > _STRICT_COVERAGE_UP_TO
        weights = np.zeros(n)
        share_total = 0.0
        if long_query:
            # A long question: scores scaled by the idf-weighted share of the query matched
            # (missing a rare word costs more than missing a common one).
            weights = np.array([self._idf(self._clause_count(p)) for p in plans])
            share_total = float(weights.sum())
        scale = long_query and partial and share_total > 0

        def keyed(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Sort keys and scores of ``docs`` (ascending)."""
            scores, matched = self._score(plans, docs, s, weights if scale else None)
            key = scores.astype(np.float64)
            if scale:
                key *= (matched / share_total) ** s.coordination
            elif partial and not long_query:
                key += matched * 1e6  # more matched words always first
            return key, scores

        docs = candidates
        if prune and len(candidates) > _SEED * 2:
            bound = bound_map[candidates] + self._bonus_bound(plans, s)
            if scale:
                # Shares summed over lists count a word found in two fields twice: capped at
                # the whole query, still a bound.
                share = np.bincount(
                    joined,
                    weights=np.repeat(weights[[p[2] for p in parts]] / share_total, sizes),
                    minlength=self.size,
                )[candidates]
                bound *= np.minimum(share, 1.0) ** s.coordination
            elif partial and not long_query:
                masks = np.zeros((n, self.size), dtype=bool)
                for ids, _, clause, _, _ in parts:
                    masks[clause, ids] = True
                bound += masks[:, candidates].sum(axis=0) * 1e6
            docs = self._prune(candidates, bound, keyed, depth, collapse)
        key, scores = keyed(docs)
        return self._page(
            docs, key, scores, total, facets, False, start, count, depth, collapse, pairs
        )

    def _rank_long(
        self,
        plans: list[_Plan],
        excluded_plans: list[_Plan],
        s: Settings,
        start: int,
        count: int,
        depth: int,
        collapse: bool,
        pairs: _Rerank,
    ) -> Ranked | _Bounded | None:
        """A long query whose pages with every word cannot fill a page, by MaxScore: the
        posting lists whose best scores, summed, stay below the bar that a first set of pages
        sets (at :data:`_LONG_DEPTH`) are never read in full (a page that only they hold cannot
        reach the results); they are only probed for the pages that are scored. Only lists that
        surely hold more than TOTAL_EXACT_UP_TO questions are skipped, so a skipped list makes
        the total a lower bound above that. None when no list can be skipped; the lower-bound
        counts alone when the window reaches past :data:`_LONG_DEPTH`."""
        # The lists, and the questions each surely counts.
        entries = self._parts(plans)
        counted = [lst.distinct if lst is not None else 0 for _, _, _, lst, _ in entries]
        if max(counted, default=0) < TOTAL_EXACT_UP_TO:
            return None
        weights = np.array([self._idf(self._clause_count(p)) for p in plans])
        share_total = float(weights.sum())

        def score(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            scores, share = self._score(plans, docs, s, weights)
            key = scores.astype(np.float64)
            if share_total:  # a list this long means pages lacking some word are ranked too
                key *= (share / share_total) ** s.coordination
            return key, scores

        keyed = _Memo(score)
        seed = self._long_seed(entries, excluded_plans)
        if len(seed) < _LONG_DEPTH:
            return None
        seed_key, _ = keyed(seed)
        bar = self._kth(seed, seed_key, _LONG_DEPTH, collapse)
        # Skip the lists with the smallest bounds (the commonest words) while they sum below it.
        running = self._bonus_bound(plans, s)
        skipped: set[int] = set()
        floor = 0
        for j in sorted(range(len(entries)), key=lambda j: entries[j][1]):
            bound_j, distinct = entries[j][1], counted[j]
            if running + bound_j >= bar:
                break
            if distinct >= TOTAL_EXACT_UP_TO:
                running += bound_j
                skipped.add(j)
                floor = max(floor, distinct)
        if not skipped:
            return None
        kept = [entry for j, entry in enumerate(entries) if j not in skipped]
        sizes = np.array([len(e[0]) for e in kept], dtype=np.int64)
        joined = np.concatenate([e[0] for e in kept]) if kept else _EMPTY_IDS
        # The lists read contribute each page's own score there (a variant's fields summed,
        # where the clause takes the best variant: still a bound), the skipped ones their best.
        values = [
            lst.values(np.arange(len(ids))) * factor + 1e-9
            if lst is not None
            else np.full(len(ids), ub + 1e-9)
            for ids, ub, _, lst, factor in kept
        ]
        bound_map = np.bincount(
            joined,
            weights=np.concatenate(values) if values else None,
            minlength=self.size,
        )
        matched = bound_map > 0
        matched &= self._live
        for plan in excluded_plans:
            matched &= ~self._plan_mask(plan)
        candidates = np.flatnonzero(matched)
        del matched
        # Counted over the lists read: lower bounds, as the skipped lists' pages are not in.
        facets = self._facets(candidates, collapse)
        total = max(self._distinct(candidates) if collapse else len(candidates), floor)
        if depth > _LONG_DEPTH or start >= total:
            return _Bounded(total, facets)
        # A page's bound: the best scores of the lists read that hold it, plus all the skipped
        # ones; times its largest possible share of the query (a word found in two fields
        # counts twice here, and every skipped word counts as found: capped at the whole).
        bound = bound_map[candidates] + running
        if share_total:
            skipped_clauses = {entries[j][2] for j in skipped}
            skipped_share = float(sum(weights[c] for c in skipped_clauses)) / share_total
            share = np.bincount(
                joined,
                weights=np.repeat(np.array([weights[e[2]] for e in kept]) / share_total, sizes),
                minlength=self.size,
            )[candidates]
            bound *= np.minimum(share + skipped_share, 1.0) ** s.coordination
        # Raise the bar with the best-bounded pages, then keep those that can still reach it.
        top = min(len(candidates), _SEED)
        best = candidates[np.sort(np.argpartition(-bound, top - 1)[:top])]
        best_key, _ = keyed(best)
        bar = max(bar, self._kth(best, best_key, _LONG_DEPTH, collapse))
        # A relative margin: the bound sums float32 scores in another order than scoring does.
        docs = candidates[bound * (1.0 + 1e-5) >= bar]
        key, scores = keyed(docs)
        return self._page(
            docs,
            key,
            scores,
            total,
            facets,
            False,
            start,
            count,
            depth,
            collapse,
            pairs,
            exact=False,
        )

    def _long_seed(self, entries: list[_Part], excluded_plans: list[_Plan]) -> np.ndarray:
        """The pages that set a long query's first bar: the first pages of the lists with the
        highest bounds (live, not excluded)."""
        budget = 4 * max(_SEED, _LONG_DEPTH)
        seed_parts, seen = [], 0
        for entry in sorted(entries, key=lambda e: -e[1]):
            seed_parts.append(entry[0][:budget])
            seen += min(len(entry[0]), budget)
            if seen >= budget:
                break
        seed = np.unique(np.concatenate(seed_parts))
        if self._deletions:
            seed = seed[self._live[seed]]
        for plan in excluded_plans:
            seed = seed[~self._member(plan, seed)]
        return seed

    def _clause_count(self, plan: _Plan) -> int:
        """Live documents matching a clause (cached by its terms: common words recur),
        counted from its lists without merging them: each list's pages not in an earlier,
        longer one."""
        if plan.docs is not None:
            docs = plan.docs
            return int(np.count_nonzero(self._live[docs])) if self._deletions else len(docs)
        key = tuple(t for t, _ in plan.clause.variants)
        known = self.source.clause_count(key)
        if known is not None:
            return known
        with self._lock:
            hit = self._counts.get(key)
        if hit is not None:
            return hit
        lists = sorted((lst.ids for lst in plan.lists()), key=len, reverse=True)
        count = 0
        for i, ids in enumerate(lists):
            fresh = np.ones(len(ids), dtype=bool)
            for earlier in lists[:i]:
                fresh &= ~_isin_sorted(ids, earlier)
            new = ids[fresh] if i else ids
            count += int(np.count_nonzero(self._live[new])) if self._deletions else len(new)
        with self._lock:
            if len(self._counts) >= self._counts_limit:
                self._counts.clear()
            self._counts[key] = count
        return count

    def _prune(
        self, candidates: np.ndarray, bound: np.ndarray, keyed: Any, depth: int, collapse: bool
    ) -> np.ndarray:
        """The candidates that can still reach the first ``depth`` results: the best-bounded
        pages are scored in full, and the ``depth``-th of them is the bar; a page whose bound
        is below it cannot be in the results and is never scored."""
        seed_size = max(_SEED, 4 * depth)
        if seed_size >= len(candidates):
            return candidates
        seed_at = np.sort(np.argpartition(-bound, seed_size - 1)[:seed_size])
        seed = candidates[seed_at]
        key, _ = keyed(seed)
        bar = self._kth(seed, key, depth, collapse)
        # The bounds carry a relative margin against float32 rounding (see _List.ub).
        return candidates[bound * (1.0 + 1e-6) >= bar]

    def _kth(self, docs: np.ndarray, key: np.ndarray, k: int, collapse: bool) -> float:
        ordered = self._ordered(docs, key, k, collapse)
        return float(key[ordered[k - 1]]) if len(ordered) >= k else 0.0

    def _ordered(self, docs: np.ndarray, key: np.ndarray, k: int, collapse: bool) -> np.ndarray:
        """Positions (into ``docs``) of the first ``k`` results in rank order: best key first,
        lower document number first on ties, and with ``collapse`` only the best page of each
        question."""
        if not len(docs):
            return np.zeros(0, dtype=np.int64)
        spare = int(np.count_nonzero(self._repeated[docs])) if collapse else 0
        reach = k + spare
        if reach < len(docs):
            # Everything tied with the reach-th key stays in, so ties break by document.
            cut = np.partition(-key, reach - 1)[reach - 1]
            top = np.flatnonzero(-key <= cut)
        else:
            top = np.arange(len(docs))
        top = top[np.lexsort((docs[top], -key[top]))]
        if collapse and spare:
            _, first = np.unique(self._question_codes[docs[top]], return_index=True)
            top = top[np.sort(first)]
        return top[:k]

    def _page(
        self,
        docs: np.ndarray,
        key: np.ndarray,
        scores: np.ndarray,
        total: int,
        facets: dict[str, int],
        conjunctive: bool,
        start: int,
        count: int,
        depth: int,
        collapse: bool,
        pairs: _Rerank,
        *,
        exact: bool = True,
    ) -> Ranked:
        wanted = min(total, start + count)
        top = self._ordered(docs, key, depth, collapse)
        # The proximity bonus re-ranks a fixed head of the results (the same for every page,
        # so paging stays consistent): it needs the stored questions.
        head = min(len(top), _PROXIMITY_DEPTH) if pairs else 0
        extra = np.zeros(len(top), dtype=np.float64)
        if head:
            first = top[:head]
            extra[:head] = self._proximity(docs[first], pairs)
            boosted = key[first] + extra[:head]
            reorder = np.lexsort((docs[first], -boosted))
            top = np.concatenate([first[reorder], top[head:]])
            extra = np.concatenate([extra[:head][reorder], extra[head:]])
        page = slice(start, wanted)
        chosen = top[page]
        values = scores[chosen].astype(np.float64) + extra[page]
        return Ranked(docs[chosen].tolist(), values.tolist(), total, facets, conjunctive, exact)

    def _filter_only(
        self,
        excluded: Sequence[Clause],
        allowed: np.ndarray | None,
        start: int,
        count: int,
        collapse: bool,
    ) -> Ranked:
        """A filter alone (subject:physics): every allowed document, in index order."""
        matched = self._live.copy()
        for clause in excluded:
            matched &= ~self._plan_mask(self._plan(clause, self.settings))
        docs = np.flatnonzero(matched)
        facets = self._facets(docs, collapse)
        if allowed is not None:
            docs = docs[allowed[docs]]
        if collapse and self._any_repeated and len(docs):
            _, first = np.unique(self._question_codes[docs], return_index=True)
            docs = docs[np.sort(first)]
        page = docs[start : start + count]
        return Ranked(page.tolist(), [0.0] * len(page), len(docs), facets, True)

    def _distinct(self, docs: np.ndarray) -> int:
        """How many questions ``docs`` ask (each repeated question once)."""
        if not self._any_repeated or not len(docs):
            return len(docs)
        if len(docs) * 16 > self.size:  # many pages: count over the groups, no sort
            mask = np.zeros(self.size, dtype=bool)
            mask[docs] = True
            plain = int(np.count_nonzero(mask & ~self._repeated))
            return plain + int(self._by_question.any(mask).sum())
        repeated = self._repeated[docs]
        if not repeated.any():
            return len(docs)
        codes = self._question_codes[docs[repeated]]
        return int(np.count_nonzero(~repeated)) + len(np.unique(codes))

    def _facets(self, docs: np.ndarray, collapse: bool) -> dict[str, int]:
        if not len(docs):
            return {}
        names = len(self._subject_names)
        if collapse and self._any_repeated:  # a question asked twice in one subject counts once
            if len(docs) * 16 > self.size:
                mask = np.zeros(self.size, dtype=bool)
                mask[docs] = True
                counts = np.bincount(
                    self._subject_codes[docs[~self._repeated[docs]]], minlength=names
                )
                held = self._by_pair.any(mask)
                counts += np.bincount(self._pair_subjects[held], minlength=names)
            else:
                codes = self._subject_codes[docs].astype(np.int64)
                repeated = self._repeated[docs]
                if repeated.any():
                    questions = self._question_codes[docs[repeated]].astype(np.int64)
                    width = int(self._question_codes.max()) + 1
                    pairs = np.unique(codes[repeated] * width + questions) // width
                    codes = np.concatenate([codes[~repeated], pairs])
                counts = np.bincount(codes, minlength=names)
        else:
            counts = np.bincount(self._subject_codes[docs], minlength=names)
        found = [(self._subject_names[i], int(c)) for i, c in enumerate(counts) if c]
        return dict(sorted(((k, v) for k, v in found if k), key=lambda kv: (-kv[1], kv[0])))

    def subject_mask(self, subject_keys: Sequence[str]) -> np.ndarray:
        """Documents whose subject's filter key is every one of ``subject_keys``."""
        cache_key = tuple(subject_keys)
        with self._lock:
            hit = self._masks.get(cache_key)
        if hit is not None:
            return hit
        keys = [subject_key(name) for name in self._subject_names]
        allowed_codes = [i for i, k in enumerate(keys) if all(k == want for want in subject_keys)]
        mask = np.isin(self._subject_codes, allowed_codes)
        with self._lock:
            self._masks[cache_key] = mask
            if len(self._masks) > 64:
                self._masks.popitem(last=False)
        return mask


class _Groups:
    """Documents grouped by a code (ascending), for "does any member match" per group."""

    def __init__(self, docs: np.ndarray, codes: np.ndarray) -> None:
        order = np.argsort(codes, kind="stable")
        self.docs = docs[order]
        sorted_codes = codes[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = sorted_codes[1:] != sorted_codes[:-1]
        self.starts = np.flatnonzero(first)
        self.codes = sorted_codes[self.starts]

    def any(self, mask: np.ndarray) -> np.ndarray:
        """Per group, whether ``mask`` holds any of its documents."""
        if not len(self.docs):
            return np.zeros(0, dtype=bool)
        return np.logical_or.reduceat(mask[self.docs], self.starts)


def _isin_sorted(docs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``docs`` are in ``ids`` (ascending)."""
    if not len(ids) or not len(docs):
        return np.zeros(len(docs), dtype=bool)
    at = np.searchsorted(ids, docs)
    np.minimum(at, len(ids) - 1, out=at)
    return ids[at] == docs


