"""The scoring model: what a page scores for a query. BM25F over the text fields with their
boosts and length normalisation, the bonuses for words written as in the question and for a
question holding every word, and the proximity bonus that re-ranks the first results. It also
knows each posting list's best possible score, which the evaluation prunes with."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quicksearch.config import Settings
from quicksearch.fields import EXACT_FIELD, TEXT_FIELDS
from quicksearch.query import Clause
from quicksearch.ranking.source import PostingCache, isin_sorted

#: A set of pages this share of the collection or larger is handled as a mask over every page
#: rather than as sorted lists (see ``clause_scores`` and ``Ranker._plan_ids``).
DENSE_SHARE = 8
#: A clause of this many posting lists (a half-typed word's forms in three fields) is scored
#: for every page at once, then read for whichever pages a query asks about: a binary search
#: per list per call cost 3 ms of an 11 ms search for a junk word beside "met".
_MANY_LISTS = 12


@dataclass
class TermList:
    """One term's postings in one field, with what scoring them needs for one query."""

    ids: np.ndarray  # global document numbers, ascending (int32)
    tf: np.ndarray  # term frequencies (float32)
    coef: float  # boost * idf
    norm: np.ndarray  # per document, k1 * (1 - b + b * length / avg)
    k1: float
    ub: float  # the largest score any page of this list reaches (a hair above)
    distinct: int = 0  # see Entry.distinct

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
Part = tuple[np.ndarray, float, int, TermList | None, float]


@dataclass(frozen=True)
class Rerank:
    """Bonuses earned in the question by the first results (see ``Ranker._proximity``)."""

    pairs: dict[tuple[str, str], float]
    #: Per query word, its terms; a question holding them in this order earns order_bonus.
    order: tuple[frozenset[str], ...] = ()
    order_bonus: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.pairs) or bool(self.order and self.order_bonus)


def in_order(stems: Sequence[str], order: Sequence[frozenset[str]]) -> bool:
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
class Plan:
    """A clause's posting lists: per variant, its weight and one list per field."""

    clause: Clause
    variants: list[tuple[float, list[TermList]]]
    docs: np.ndarray | None  # phrase filter, ascending
    ub: float
    size: int  # postings in all its lists (an upper bound of its pages)
    #: Every page's score and match, once computed for a clause of many lists (see
    #: ScoringModel.clause_scores); a plan lives for one query.
    pages: tuple[np.ndarray, np.ndarray] | None = None

    def lists(self) -> list[TermList]:
        return [lst for _, lists in self.variants for lst in lists]


class ScoringModel:
    """Scores pages for query clauses from a :class:`PostingCache` and the fields' lengths."""

    def __init__(
        self,
        cache: PostingCache,
        lengths: dict[str, np.ndarray],
        averages: dict[str, float],
        documents: int,
    ) -> None:
        self._cache = cache
        self.size = cache.size
        self._lengths = lengths
        self._avg = averages
        self.documents = documents
        self._norms: dict[tuple[str, float, float], np.ndarray] = {}

    def idf(self, df: int) -> float:
        n = self.documents
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _norm(self, field: str, k1: float, b: float) -> np.ndarray:
        key = (field, k1, b)
        norm = self._norms.get(key)
        if norm is None:
            norm = k1 * (1.0 - b + b * self._lengths[field] / self._avg[field])
            self._norms[key] = norm
        return norm

    def term_list(
        self, field: str, term: str, boost: float, s: Settings, df: int | None = None
    ) -> TermList:
        entry = self._cache.get(field, term)
        b = s.bm25_b if field in ("keywords", "answer") else s.question_b
        k1 = s.bm25_k1
        norm = self._norm(field, k1, b)
        coef = boost * self.idf(entry.df if df is None else df) if entry.df else 0.0
        # No page of the list scores above its largest frequency in its shortest field (the
        # score grows with the one and falls with the other); a hair above, for rounding.
        most = entry.max_tf
        shortest_norm = k1 * (1.0 - b + b * entry.min_length / self._avg[field])
        peak = most * (k1 + 1.0) / (most + shortest_norm) if most else 0.0
        return TermList(
            entry.ids, entry.tf, coef, norm, k1, coef * peak * (1.0 + 1e-5), entry.distinct
        )

    def plan(self, clause: Clause, s: Settings) -> Plan:
        boosts = s.field_boosts
        variants = []
        ub = 0.0
        size = 0
        fields = [f for f in TEXT_FIELDS if f in self._lengths]
        shared: dict[str, int] = {}
        if clause.shared_idf:
            for field in fields:
                dfs = sum(self._cache.get(field, t).df for t, _ in clause.variants)
                shared[field] = min(dfs, self.documents)
        for term, weight in clause.variants:
            lists = [
                self.term_list(field, term, boosts[field], s, shared.get(field)) for field in fields
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
        return Plan(clause, variants, docs, ub * clause.weight, size)

    def clause_scores(self, plan: Plan, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A clause's score for each of ``docs`` and whether it matches them."""
        # Many pages, or many lists (a prefix's forms) each searched for all the pages: each
        # list is scattered once over every page and read back at its postings, instead of a
        # binary search per list (the same sums, added in the same order).
        if plan.pages is None and (
            len(docs) * DENSE_SHARE > self.size
            or sum(len(lists) for _, lists in plan.variants) >= _MANY_LISTS
        ):
            plan.pages = self._dense_clause_scores(plan)
        if plan.pages is not None:
            every, held = plan.pages
            best, present = every[docs], held[docs]
        else:
            best = np.zeros(len(docs), dtype=np.float32)
            present = np.zeros(len(docs), dtype=bool)
            for weight, lists in plan.variants:
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
            keep = isin_sorted(docs, plan.docs)
            present &= keep
            best = np.where(keep, best, 0.0).astype(np.float32)
        return best, present

    def _dense_clause_scores(self, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`clause_scores` for many pages: each form's lists are scattered over all the
        pages, read back at their own postings only, and cleared, so the work follows the
        postings, not forms times pages (a prefix such as "con" has dozens of forms and 9,000
        pages). The same sums, added in the same order, as the binary searches give."""
        spread = np.zeros(self.size, dtype=np.float32)
        best = np.zeros(self.size, dtype=np.float32)
        held = np.zeros(self.size, dtype=bool)
        for weight, lists in plan.variants:
            for lst in lists:
                spread[lst.ids] += lst.values(np.arange(len(lst.ids)))
            for lst in lists:
                ids = lst.ids
                scores = spread[ids]
                if weight != 1.0:
                    scores = scores * weight
                if plan.clause.phrase:
                    best[ids] += scores
                else:
                    best[ids] = np.maximum(best[ids], scores)
                spread[ids] = 0.0  # read once: a page in two fields' lists is added once
                held[ids] = True
        return best, held

    def score(
        self,
        plans: list[Plan],
        docs: np.ndarray,
        s: Settings,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores (bonuses included) of ``docs``, and per page the summed ``weights`` of the
        clauses it matches (each clause 1 without them: how many it matches)."""
        total = np.zeros(len(docs), dtype=np.float32)
        matched = np.zeros(len(docs), dtype=np.float64)
        for i, plan in enumerate(plans):
            scores, present = self.clause_scores(plan, docs)
            total += scores
            matched += present * (1.0 if weights is None else weights[i])
        if plans:
            total += self._bonus(plans, docs, s)
        return total, matched

    def parts(self, plans: list[Plan]) -> list[Part]:
        """Every posting list of the clauses (a phrase: its pages), with its weights."""
        parts: list[Part] = []
        for i, plan in enumerate(plans):
            if plan.docs is not None:  # a phrase: only where its words stand together
                parts.append((plan.docs, plan.ub, i, None, 1.0))
                continue
            for weight, lists in plan.variants:
                factor = weight * plan.clause.weight
                for lst in lists:
                    parts.append((lst.ids, lst.ub * factor, i, lst, factor))
        return parts

    def _bonus(self, plans: list[Plan], docs: np.ndarray, s: Settings) -> np.ndarray:
        """Extra score for query words written exactly as in a question and for a question
        that holds every query word (see also :meth:`_proximity`)."""
        bonus = np.zeros(len(docs), dtype=np.float32)
        words = [p for p in plans if not p.clause.phrase]
        if s.exact_boost:
            boost = s.question_boost * s.exact_boost
            for plan in words:
                if plan.clause.word and EXACT_FIELD in self._lengths:
                    lst = self.term_list(EXACT_FIELD, plan.clause.word, boost, s)
                    found, values = lst.probe(docs)
                    bonus[found] += values
        if s.question_cover_bonus and len(words) > 1:
            covered = np.ones(len(docs), dtype=bool)
            for plan in words:
                terms = [t for t, _ in plan.clause.variants]
                covered &= self._holding(docs, [self._cache.get("question", t).ids for t in terms])
            bonus += covered * np.float32(s.question_cover_bonus)
        return bonus

    def _holding(self, docs: np.ndarray, lists: list[np.ndarray]) -> np.ndarray:
        """Which of ``docs`` (ascending) are in any of ``lists`` (each ascending)."""
        if len(docs) * DENSE_SHARE > self.size:  # many pages: one mask, no binary searches
            mask = np.zeros(self.size, dtype=bool)
            for ids in lists:
                mask[ids] = True
            return mask[docs]
        held = np.zeros(len(docs), dtype=bool)
        for ids in lists:
            held |= isin_sorted(docs, ids)
        return held

    def bonus_bound(self, plans: list[Plan], s: Settings) -> float:
        bound = 0.0
        words = [p for p in plans if not p.clause.phrase]
        if s.exact_boost:
            boost = s.question_boost * s.exact_boost
            for plan in words:
                if plan.clause.word and EXACT_FIELD in self._lengths:
                    bound += self.term_list(EXACT_FIELD, plan.clause.word, boost, s).ub
        if s.question_cover_bonus and len(words) > 1:
            bound += s.question_cover_bonus
        return bound

    def rerank(self, clauses: Sequence[Clause], settings: Settings) -> Rerank:
        """What re-ranks the head of the results: neighbouring query words, and the query's
        words in its order, in the question."""
        words = [c for c in clauses if not c.phrase]
        order: tuple[frozenset[str], ...] = ()
        if settings.question_order_bonus and len(words) > 1:
            order = tuple(frozenset(t for t, _ in c.variants) for c in words)
        return Rerank(self._pairs(clauses, settings), order, settings.question_order_bonus)

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
            rarest = min(self._cache.question_df(a), self._cache.question_df(b))
            if rarest:
                pairs[(a, b)] = pairs[(b, a)] = weight * self.idf(rarest)
        return pairs

    def proximity(self, docnums: np.ndarray, rerank: Rerank) -> np.ndarray:
        """The bonus of each document whose question holds query words side by side, and
        every query word in the query's order, read from the stored questions (only the first
        results are re-ranked by it)."""
        bonus = np.zeros(len(docnums), dtype=np.float64)
        pairs = rerank.pairs
        order = rerank.order if rerank.order_bonus else ()
        for i, docnum in enumerate(docnums.tolist()):
            stems = self._cache.question_stems(docnum)
            if pairs:
                bonus[i] = sum(pairs.get(pair, 0.0) for pair in set(itertools.pairwise(stems)))
            if order and in_order(stems, order):
                bonus[i] += rerank.order_bonus
        return bonus
