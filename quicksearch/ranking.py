"""BM25F ranking over the index's postings, vectorised with numpy.

Whoosh stores the postings; evaluating big OR queries through its pure-Python matcher trees costs
seconds. Here each query term's postings are read block-wise (and cached), scored for all
documents at once, and combined with numpy: totals and subject facets are exact counts over
masks, and "all words, else any words" is a per-document count of matched query words.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.matching import ListMatcher
from whoosh.reading import IndexReader
from whoosh.util.numeric import byte_to_length

from .analysis import remember_stems, stem
from .config import Settings
from .schema import EXACT_FIELD, TEXT_FIELDS, kept_words, subject_key

__all__ = ["VOCABULARY_FILE", "Clause", "Ranked", "Ranker", "load_vocabulary", "read_vocabulary"]

VOCABULARY_FILE = "vocabulary.json"

_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)
# Cached postings, counted in postings (8 bytes each): ~64 MB at most.
_CACHE_POSTINGS = 8_000_000
# In any-word mode, queries of up to this many words rank by matched words first.
_STRICT_COVERAGE_UP_TO = 4
#: Results re-ranked by the proximity bonus (read from stored questions).
_PROXIMITY_DEPTH = 50


@dataclass(frozen=True)
class Clause:
    """One query word: any of its ``variants`` may match (a word counts once, by its best
    form), each weighted (below 1 for corrected or completed forms). A phrase is a clause whose
    words all score (``phrase=True``) and which matches only in ``docs``, the documents where
    the words stand together."""

    variants: tuple[tuple[str, float], ...]
    docs: np.ndarray | None = None
    phrase: bool = False
    #: The word as typed (normalised), for the exact-form bonus.
    word: str | None = None
    #: Multiplies the clause's score: a word written twice in a long query counts twice.
    weight: float = 1.0


@dataclass(frozen=True)
class Ranked:
    """Document numbers of one page, their scores, the exact total and subject counts."""

    docnums: list[int]
    scores: list[float]
    total: int
    facets: dict[str, int]
    conjunctive: bool


class Ranker:
    """Scores queries against one open index generation (not thread-safe: callers lock)."""

    def __init__(self, reader: IndexReader, settings: Settings) -> None:
        self._reader = reader
        self.settings = settings
        self.size = reader.doc_count_all()
        self._live = np.ones(self.size, dtype=bool)
        self._lengths: dict[str, np.ndarray] = {}
        fields = [f for f in (*TEXT_FIELDS, EXACT_FIELD) if f in reader.schema]
        for field in fields:
            self._lengths[field] = np.zeros(self.size, dtype=np.float32)
        for leaf, offset in reader.leaf_readers():
            count = leaf.doc_count_all()
            if leaf.has_deletions():
                deleted = [d for d in range(count) if leaf.is_deleted(d)]
                self._live[[offset + d for d in deleted]] = False
            perdoc = getattr(leaf, "_perdoc", None)
            if perdoc is None:  # an index without documents has no segment to read
                continue
            for field in fields:
                column = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
                if column is not None:
                    raw = np.fromiter((column[i] for i in range(count)), np.uint8, count)
                    self._lengths[field][offset : offset + count] = _LENGTH_OF_BYTE[raw]
        live_count = max(1, int(self._live.sum()))
        self.documents = int(self._live.sum())
        self._deletions = self.documents < self.size
        dead = ~self._live
        self._avg = {
            f: max(1.0, (reader.field_length(f) - float(self._lengths[f][dead].sum())) / live_count)
            for f in fields
        }
        subjects = list(reader.column_reader("subject")) if reader.has_column("subject") else []
        names, codes = np.unique(
            np.array(subjects or [""] * self.size, dtype=object), return_inverse=True
        )
        self._subject_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        self._subject_codes = codes.astype(np.int32)
        if reader.has_column("question_key"):
            keys = np.array(list(reader.column_reader("question_key")), dtype=object)
            self._question_codes = np.unique(keys, return_inverse=True)[1].astype(np.int32)
        else:
            self._question_codes = np.arange(self.size, dtype=np.int32)
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached = 0
        self._cache_lock = threading.Lock()

    # -- postings ----------------------------------------------------------------------------

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global document numbers and term frequencies of ``term`` in ``field``."""
        key = (field, term)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        id_blocks: list[np.ndarray] = []
        weight_blocks: list[np.ndarray] = []
        for leaf, offset in self._reader.leaf_readers():
            if (field, term) not in leaf:
                continue
            matcher = leaf.postings(field, term)
            while not hasattr(matcher, "_read_ids") and hasattr(matcher, "child"):
                matcher = matcher.child  # skip the deleted-docs filter: _live masks those
            if isinstance(matcher, ListMatcher):  # a rare term's postings, kept in its record
                inlined = np.asarray(matcher._ids, dtype=np.int32)
                id_blocks.append(inlined + offset if offset else inlined)
                weight_blocks.append(
                    np.asarray(matcher._weights, dtype=np.float32)
                    if matcher._weights
                    else np.ones(len(inlined), dtype=np.float32)
                )
                continue
            while matcher.is_active():
                # Whole blocks at a time: the per-posting matcher API is far slower.
                matcher._read_ids()
                matcher._read_weights()
                block_ids = np.asarray(matcher._ids, dtype=np.int32)
                id_blocks.append(block_ids + offset if offset else block_ids)
                block_weights = matcher._weights
                weight_blocks.append(
                    np.asarray(block_weights, dtype=np.float32)
                    if block_weights is not None
                    else np.ones(len(block_ids), dtype=np.float32)
                )
                matcher._next_block()
        if id_blocks:
            result = (np.concatenate(id_blocks), np.concatenate(weight_blocks))
        else:
            result = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        ids = result[0]
        with self._cache_lock:
            self._cache[key] = result
            self._cached += len(ids)
            while self._cached > _CACHE_POSTINGS and len(self._cache) > 1:
                _, (old_ids, _) = self._cache.popitem(last=False)
                self._cached -= len(old_ids)
        return result

    def _idf(self, df: int) -> float:
        n = self.documents
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def term_scores(
        self, term: str, fields: Sequence[str] = TEXT_FIELDS, settings: Settings | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25F score of ``term`` for every document, and where it occurs at all."""
        s = settings or self.settings
        boosts = {
            **s.field_boosts,
            EXACT_FIELD: s.question_boost * s.exact_boost,
        }
        scores = np.zeros(self.size, dtype=np.float32)
        present = np.zeros(self.size, dtype=bool)
        for field in fields:
            if field not in self._lengths:
                continue
            ids, tf = self.postings(field, term)
            if not len(ids):
                continue
            b = s.bm25_b if field in ("keywords", "answer") else s.question_b
            norm = s.bm25_k1 * (1.0 - b + b * self._lengths[field][ids] / self._avg[field])
            # Deleted pages keep their postings until a merge: count live documents only, so
            # an index with deletions scores like one built without those pages.
            df = int(np.count_nonzero(self._live[ids])) if self._deletions else len(ids)
            idf = self._idf(df)
            scores[ids] += boosts[field] * idf * tf * (s.bm25_k1 + 1.0) / (tf + norm)
            present[ids] = True
        return scores, present

    def _bonus(self, clauses: Sequence[Clause], settings: Settings) -> np.ndarray:
        """Extra score for query words written exactly as in a question and for a question
        that holds every query word (see also :meth:`_proximity`)."""
        bonus = np.zeros(self.size, dtype=np.float32)
        words = [c for c in clauses if not c.phrase]
        for clause in words:
            if clause.word:
                bonus += self.term_scores(clause.word, (EXACT_FIELD,), settings)[0]
        if settings.question_cover_bonus and len(words) > 1:
            covered = np.ones(self.size, dtype=bool)
            for clause in words:
                in_question = np.zeros(self.size, dtype=bool)
                for term, _ in clause.variants:
                    in_question[self.postings("question", term)[0]] = True
                covered &= in_question
            bonus += covered * np.float32(settings.question_cover_bonus)
        return bonus

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
            rarest = min(len(self.postings("question", a)[0]), len(self.postings("question", b)[0]))
            if rarest:
                pairs[(a, b)] = pairs[(b, a)] = weight * self._idf(rarest)
        return pairs

    def _proximity(self, docnums: np.ndarray, pairs: dict[tuple[str, str], float]) -> np.ndarray:
        """The bonus of each document whose question holds query words side by side, read
        from the stored questions (only the first results are re-ranked by it)."""
        bonus = np.zeros(len(docnums), dtype=np.float64)
        for i, docnum in enumerate(docnums.tolist()):
            question = self._reader.stored_fields(docnum).get("question") or ""
            stems = [stem(w) for w in kept_words(question)]
            bonus[i] = sum(pairs.get(pair, 0.0) for pair in set(itertools.pairwise(stems)))
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
    ) -> Ranked:
        """Rank documents for ``clauses``: those matching all of them, or, when they are fewer
        than ``count`` (a page), those matching any, more matched clauses first. ``allowed``
        is a filter mask. With ``collapse``, pages asking the same question count once, as the
        best of them. ``settings`` overrides the ranker's weights for this query."""
        s = settings or self.settings
        base = self._live
        for clause in excluded:
            _, present = self._clause_scores(clause, s)
            base = base & ~present
        total_scores = np.zeros(self.size, dtype=np.float32)
        coverage = np.zeros(self.size, dtype=np.int16)
        # Long questions rank partial matches by the share of the query they match, each clause
        # weighted by its idf: missing a rare word costs more than missing a common one.
        share = (
            np.zeros(self.size, dtype=np.float32) if len(clauses) > _STRICT_COVERAGE_UP_TO else None
        )
        share_total = 0.0
        for clause in clauses:
            scores, present = self._clause_scores(clause, s)
            total_scores += scores
            coverage += present
            if share is not None:
                weight = self._idf(int(np.count_nonzero(present & self._live)))
                share += present * np.float32(weight)
                share_total += weight
        if share is not None and share_total:
            share /= np.float32(share_total)
        if clauses:
            total_scores += self._bonus(clauses, s)
        conjunctive = True
        if not clauses:  # a filter alone (subject:physics): every allowed document, index order
            candidates = base
        else:
            candidates = base & (coverage == len(clauses))
            # Too few pages have every word to fill a page: add those with some of the words
            # (after them, for short queries). Decided on the unfiltered matches and the page
            # size only, so paging stays consistent and a subject's facet count is its total.
            if len(clauses) > 1 and np.count_nonzero(candidates) < count:
                candidates = base & (coverage > 0)
                conjunctive = False
        # Facets ignore the subject filter, so an app can offer the other subjects' counts;
        # a subject's count is the total that filtering on it gives.
        facets = self._facets(np.flatnonzero(candidates), collapse)
        if allowed is not None:
            candidates = candidates & allowed
        docs, key = self._order(
            candidates, total_scores, coverage, share, len(clauses), collapse, s
        )
        total = len(docs)
        if start >= total:
            return Ranked([], [], total, facets, conjunctive)
        wanted = min(total, start + count)
        pairs = self._pairs(clauses, s)
        # The proximity bonus re-ranks a fixed head of the results (the same for every page,
        # so paging stays consistent): it needs the stored questions.
        head = min(total, _PROXIMITY_DEPTH) if pairs else 0
        needed = max(wanted, head)
        if collapse:
            top = np.arange(needed)  # already in rank order
        elif needed < total:
            top = np.argpartition(-key, needed - 1)[:needed]
            top = top[np.lexsort((docs[top], -key[top]))]
        else:
            top = np.lexsort((docs, -key))
        extra = np.zeros(len(docs), dtype=np.float64)
        if head:
            first = top[:head]
            extra[first] = self._proximity(docs[first], pairs)
            boosted = key[first] + extra[first]
            top = np.concatenate([first[np.lexsort((docs[first], -boosted))], top[head:]])
        page = top[start:wanted]
        scores = total_scores[docs[page]] + extra[page]
        return Ranked(docs[page].tolist(), scores.tolist(), total, facets, conjunctive)

    def _order(
        self,
        candidates: np.ndarray,
        total_scores: np.ndarray,
        coverage: np.ndarray,
        share: np.ndarray | None,
        n_clauses: int,
        collapse: bool,
        s: Settings,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidate documents and their sort keys; with ``collapse``, sorted best first and
        only the best page of each question kept."""
        docs = np.flatnonzero(candidates)
        key = total_scores[docs].astype(np.float64)
        if not len(docs):
            return docs, key
        matched = coverage[docs].astype(np.float64)
        if n_clauses > 1 and (matched < n_clauses).any():
            if n_clauses <= _STRICT_COVERAGE_UP_TO:
                key += matched * 1e6  # short queries: more matched words always first
            else:  # long questions: a softer coordination factor
                assert share is not None
                key *= share[docs].astype(np.float64) ** s.coordination
        if collapse:
            # Best first (document order breaks ties), then the first of each question.
            order = np.lexsort((docs, -key))
            _, first = np.unique(self._question_codes[docs[order]], return_index=True)
            order = order[np.sort(first)]
            docs, key = docs[order], key[order]
        return docs, key

    def _clause_scores(self, clause: Clause, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
        best = np.zeros(self.size, dtype=np.float32)
        present = np.zeros(self.size, dtype=bool)
        for term, weight in clause.variants:
            scores, where = self.term_scores(term, settings=settings)
            if weight != 1.0:
                scores = scores * weight
            if clause.phrase:
                best += scores
            else:
                np.maximum(best, scores, out=best)  # a word counts once, by its best form
            present |= where
        if clause.weight != 1.0:
            best *= np.float32(clause.weight)
        if clause.docs is not None:
            keep = np.zeros(self.size, dtype=bool)
            keep[clause.docs] = True
            present &= keep
            best = np.where(keep, best, 0.0).astype(np.float32)
        return best, present

    def _facets(self, docs: np.ndarray, collapse: bool) -> dict[str, int]:
        if not len(docs):
            return {}
        codes = self._subject_codes[docs].astype(np.int64)
        if collapse:  # a question asked twice in one subject counts once there
            questions = self._question_codes[docs].astype(np.int64)
            width = int(questions.max()) + 1
            codes = np.unique(codes * width + questions) // width
        counts = np.bincount(codes, minlength=len(self._subject_names))
        pairs = [(self._subject_names[i], int(c)) for i, c in enumerate(counts) if c]
        return dict(sorted(((k, v) for k, v in pairs if k), key=lambda kv: (-kv[1], kv[0])))

    def subject_mask(self, subject_keys: Sequence[str]) -> np.ndarray:
        """Documents whose subject's filter key is every one of ``subject_keys``."""
        keys = [subject_key(name) for name in self._subject_names]
        allowed_codes = [i for i, k in enumerate(keys) if all(k == want for want in subject_keys)]
        return np.isin(self._subject_codes, allowed_codes)


def read_vocabulary(reader: IndexReader) -> dict[str, int]:
    """Every term of the text fields with its largest per-field document frequency."""
    frequencies: dict[str, int] = {}
    for field in TEXT_FIELDS:
        if field not in reader.schema:
            continue
        for raw, info in reader.iter_field(field):
            term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            df = info.doc_frequency()
            if df > frequencies.get(term, 0):
                frequencies[term] = df
    return frequencies


def save_vocabulary(
    reader: IndexReader | None,
    words: dict[str, int],
    generation_dir: Path,
    terms: dict[str, int] | None = None,
    stems: dict[str, str] | None = None,
) -> None:
    """Store the terms (with document frequencies, read from ``reader`` unless given) and the
    words as typed (with counts) beside the index, so searchers load them in milliseconds."""
    from .storage import write_json_atomic

    if terms is None:
        assert reader is not None
        terms = read_vocabulary(reader)
    # The stems of the words, where they differ: a search process then stems known words
    # without importing NLTK (~0.3 s, or ~0.8 s when SciPy is installed).
    if stems is None:
        stems = {w: s for w in words if (s := stem(w)) != w}
    data = {"terms": terms, "words": words, "stems": stems}
    write_json_atomic(generation_dir / VOCABULARY_FILE, data, indent=None)


def load_vocabulary(
    reader: IndexReader, generation_dir: Path
) -> tuple[dict[str, int], dict[str, int]]:
    """(terms, words) of a generation; an index without the file gets terms only."""
    try:
        data = json.loads((generation_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
        remember_stems(data.get("stems", {}), data["words"])
        return dict(data["terms"]), dict(data["words"])
    except (OSError, ValueError, KeyError, TypeError):
        return read_vocabulary(reader), {}
