"""Which pages get scored, and the ranked list they make: the :class:`Ranker`.

A query is evaluated in one of three ways, all giving the ranking that scoring every matching
page would (``prune=False`` does that; a test compares the two):

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
``source.TOTAL_EXACT_UP_TO``; a long query that skipped a list larger than that reports lower
bounds. What a page scores is :mod:`.scoring`'s; the window, collapsing and facets are
:mod:`.pages`'.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quicksearch.config import Settings
from quicksearch.fields import EXACT_FIELD, TEXT_FIELDS
from quicksearch.query import Clause
from quicksearch.ranking import source
from quicksearch.ranking.pages import PROXIMITY_DEPTH, Pages, Ranked
from quicksearch.ranking.scoring import DENSE_SHARE, Part, Plan, Rerank, ScoringModel
from quicksearch.ranking.source import EMPTY_IDS, PostingCache, PostingSource, isin_sorted

# In any-word mode, queries of up to this many words rank by matched words first.
_STRICT_COVERAGE_UP_TO = 4
#: Pages scored in full to set the bar before pruning (at least four times the depth).
_SEED = 50
#: The depth at which a long query decides which common words' lists it skips (and so what
#: its lower-bound total and facets count): fixed, so every window reports the same counts.
#: A window that reaches deeper is ranked exactly, with those same counts.
_LONG_DEPTH = 10


@dataclass(frozen=True)
class Bounded:
    """The lower-bound counts of a long query whose window is ranked exactly."""

    total: int
    facets: dict[str, int]


class Memo:
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
    """Ranks queries over a :class:`PostingSource` (not thread-safe: callers lock). Made of
    three parts: the posting cache (``cache``), the scoring model (``model``) and the pages
    (``pages``: collapsing, totals, facets, windows); the Ranker decides which pages get
    scored."""

    def __init__(self, source: PostingSource, settings: Settings) -> None:
        self.source = source
        self.settings = settings
        self.size = source.size
        self._live = source.live
        self._deletions = not bool(self._live.all())
        self._lengths = source.lengths
        self.documents = source.documents
        self.pages = Pages(source.live, source.subjects, source.question_keys)
        self.cache = PostingCache(source, self.pages, settings)
        self.model = ScoringModel(self.cache, source.lengths, source.averages, source.documents)

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global document numbers (ascending) and term frequencies of ``term`` in ``field``."""
        return self.cache.postings(field, term)

    def cache_bytes(self) -> dict[str, int]:
        """Bytes held by the caches that queries fill, about."""
        return self.cache.cache_bytes()

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        """See :meth:`PostingCache.question_counts`."""
        return self.cache.question_counts(groups, probes)

    def is_live(self, docnum: int) -> bool:
        return self.pages.is_live(docnum)

    def question_code(self, docnum: int) -> int:
        """The same number for pages asking the same question."""
        return self.pages.question_code(docnum)

    def subject_mask(self, subject_keys: Sequence[str]) -> np.ndarray:
        """Documents whose subject's filter key is every one of ``subject_keys``."""
        return self.pages.subject_mask(subject_keys)

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
        self.cache.prefetch(
            [(f, t) for c in (*clauses, *excluded) for t, _ in c.variants for f in fields]
            + [(EXACT_FIELD, c.word) for c in clauses if c.word and EXACT_FIELD in self._lengths]
        )
        plans = [self.model.plan(c, s) for c in clauses]
        excluded_plans = [self.model.plan(c, s) for c in excluded]
        n = len(plans)
        pairs = self.model.rerank(clauses, s)
        wanted = start + count
        depth = max(wanted, PROXIMITY_DEPTH if pairs else 0)

        # The pages with every word number at most the smallest clause's postings: when those
        # cannot reach the threshold (a long query with a rare word), they are not worth listing.
        threshold = s.partial_match_threshold
        fewest = min(p.size for p in plans)
        conj = self._conjunction(plans, excluded_plans) if n == 1 or fewest >= threshold else None
        if conj is not None and (n == 1 or len(conj) >= threshold):
            facets = self.pages.facets(conj, collapse)
            docs = conj if allowed is None else conj[allowed[conj]]
            total = self.pages.distinct(docs) if collapse else len(docs)
            if start >= total:
                return Ranked([], [], total, facets, True)
            scores = self.model.score(plans, docs, s)[0]
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
        plans: list[Plan],
        excluded_plans: list[Plan],
        s: Settings,
        allowed: np.ndarray | None,
        start: int,
        count: int,
        depth: int,
        collapse: bool,
        pairs: Rerank,
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
        parts = self.model.parts(plans)
        sizes = np.array([len(p[0]) for p in parts], dtype=np.int64)
        joined = np.concatenate([p[0] for p in parts]) if parts else EMPTY_IDS
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
        facets = self.pages.facets(np.flatnonzero(matched), collapse)
        if allowed is not None:
            matched &= allowed
        candidates = np.flatnonzero(matched)
        del matched
        total = self.pages.distinct(candidates) if collapse else len(candidates)
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
            weights = np.array([self.model.idf(self._clause_count(p)) for p in plans])
            share_total = float(weights.sum())
        scale = long_query and partial and share_total > 0

        def keyed(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Sort keys and scores of ``docs`` (ascending)."""
            scores, matched = self.model.score(plans, docs, s, weights if scale else None)
            key = scores.astype(np.float64)
            if scale:
                key *= (matched / share_total) ** s.coordination
            elif partial and not long_query:
                key += matched * 1e6  # more matched words always first
            return key, scores

        docs = candidates
        if prune and len(candidates) > _SEED * 2:
            bound = bound_map[candidates] + self.model.bonus_bound(plans, s)
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
        plans: list[Plan],
        excluded_plans: list[Plan],
        s: Settings,
        start: int,
        count: int,
        depth: int,
        collapse: bool,
        pairs: Rerank,
    ) -> Ranked | Bounded | None:
        """A long query whose pages with every word cannot fill a page, by MaxScore: the
        posting lists whose best scores, summed, stay below the bar that a first set of pages
        sets (at :data:`_LONG_DEPTH`) are never read in full (a page that only they hold cannot
        reach the results); they are only probed for the pages that are scored. Only lists that
        surely hold more than TOTAL_EXACT_UP_TO questions are skipped, so a skipped list makes
        the total a lower bound above that. None when no list can be skipped; the lower-bound
        counts alone when the window reaches past :data:`_LONG_DEPTH`."""
        # The lists, and the questions each surely counts.
        entries = self.model.parts(plans)
        counted = [lst.distinct if lst is not None else 0 for _, _, _, lst, _ in entries]
        if max(counted, default=0) < source.TOTAL_EXACT_UP_TO:
            return None
        weights = np.array([self.model.idf(self._clause_count(p)) for p in plans])
        share_total = float(weights.sum())

        def score(docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            scores, share = self.model.score(plans, docs, s, weights)
            key = scores.astype(np.float64)
            if share_total:  # a list this long means pages lacking some word are ranked too
                key *= (share / share_total) ** s.coordination
            return key, scores

        keyed = Memo(score)
        seed = self._long_seed(entries, excluded_plans)
        if len(seed) < _LONG_DEPTH:
            return None
        seed_key, _ = keyed(seed)
        bar = self.pages.kth(seed, seed_key, _LONG_DEPTH, collapse)
        # Skip the lists with the smallest bounds (the commonest words) while they sum below it.
        running = self.model.bonus_bound(plans, s)
        skipped: set[int] = set()
        floor = 0
        for j in sorted(range(len(entries)), key=lambda j: entries[j][1]):
            bound_j, distinct = entries[j][1], counted[j]
            if running + bound_j >= bar:
                break
            if distinct >= source.TOTAL_EXACT_UP_TO:
                running += bound_j
                skipped.add(j)
                floor = max(floor, distinct)
        if not skipped:
            return None
        kept = [entry for j, entry in enumerate(entries) if j not in skipped]
        sizes = np.array([len(e[0]) for e in kept], dtype=np.int64)
        joined = np.concatenate([e[0] for e in kept]) if kept else EMPTY_IDS
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
        facets = self.pages.facets(candidates, collapse)
        total = max(self.pages.distinct(candidates) if collapse else len(candidates), floor)
        if depth > _LONG_DEPTH or start >= total:
            return Bounded(total, facets)
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
        bar = max(bar, self.pages.kth(best, best_key, _LONG_DEPTH, collapse))
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

    def _long_seed(self, entries: list[Part], excluded_plans: list[Plan]) -> np.ndarray:
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

    def _clause_count(self, plan: Plan) -> int:
        """Live documents matching a clause."""
        if plan.docs is not None:
            docs = plan.docs
            return int(np.count_nonzero(self._live[docs])) if self._deletions else len(docs)
        terms = tuple(t for t, _ in plan.clause.variants)
        return self.cache.clause_count(terms, [lst.ids for lst in plan.lists()])

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
        bar = self.pages.kth(seed, key, depth, collapse)
        # The bounds carry a relative margin against float32 rounding (see TermList.ub).
        return candidates[bound * (1.0 + 1e-6) >= bar]

    def _conjunction(self, plans: list[Plan], excluded: list[Plan]) -> np.ndarray:
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

    def _member(self, plan: Plan, docs: np.ndarray) -> np.ndarray:
        found = np.zeros(len(docs), dtype=bool)
        for lst in plan.lists():
            found |= lst.probe(docs)[0]
        if plan.docs is not None:
            found &= isin_sorted(docs, plan.docs)
        return found

    def _plan_ids(self, plan: Plan) -> np.ndarray:
        """The documents of a clause, ascending."""
        lists = plan.lists()
        if not lists:
            ids = EMPTY_IDS
        elif len(lists) == 1:
            ids = lists[0].ids
        elif plan.size * DENSE_SHARE > self.size:
            # Many postings (a prefix of a common word): marking them is several times faster
            # than sorting them (np.unique: 9 ms of a 30 ms search for "con").
            mask = np.zeros(self.size, dtype=bool)
            for lst in lists:
                mask[lst.ids] = True
            ids = np.flatnonzero(mask).astype(np.int32)
        else:
            ids = np.unique(np.concatenate([lst.ids for lst in lists]))
        if plan.docs is not None:
            ids = ids[isin_sorted(ids, plan.docs)]
        return ids

    def _plan_mask(self, plan: Plan) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        for lst in plan.lists():
            mask[lst.ids] = True
        if plan.docs is not None:
            keep = np.zeros(self.size, dtype=bool)
            keep[plan.docs] = True
            mask &= keep
        return mask

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
            matched &= ~self._plan_mask(self.model.plan(clause, self.settings))
        docs = np.flatnonzero(matched)
        facets = self.pages.facets(docs, collapse)
        if allowed is not None:
            docs = docs[allowed[docs]]
        if collapse:
            docs = self.pages.first_of_each_question(docs)
        page = docs[start : start + count]
        return Ranked(page.tolist(), [0.0] * len(page), len(docs), facets, True)

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
        pairs: Rerank,
        *,
        exact: bool = True,
    ) -> Ranked:
        """The window, its head re-ranked by the proximity bonus of ``pairs``."""

        def proximity(head: np.ndarray) -> np.ndarray:
            return self.model.proximity(head, pairs)

        args = (docs, key, scores, total, facets, conjunctive, start, count, depth, collapse)
        return self.pages.page(*args, proximity if pairs else None, exact=exact)
