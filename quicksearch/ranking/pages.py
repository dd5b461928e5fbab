"""The ranked list's pages as a collection: which pages ask the same question (collapsing
keeps the best of them), totals and subject facets over sets of pages, and one window of a
ranked list."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from quicksearch.fields import subject_key

#: Results re-ranked by the proximity bonus (read from stored questions).
PROXIMITY_DEPTH = 50


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


class Pages:
    """A source's pages by subject and by question: counts, codes and groups."""

    def __init__(self, live: np.ndarray, subjects: Sequence[Any], keys: Sequence[Any]) -> None:
        self.size = len(live)
        self.live = live
        names, codes = np.unique(
            np.array(subjects or [""] * self.size, dtype=object), return_inverse=True
        )
        self.subject_names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        self.subject_codes = codes.astype(np.int32)
        if keys:
            keys_array = np.array(keys, dtype=object)
            self.question_codes = np.unique(keys_array, return_inverse=True)[1].astype(np.int32)
        else:
            self.question_codes = np.arange(self.size, dtype=np.int32)
        # Pages whose question another page repeats: the only ones collapsing can drop.
        shared = np.bincount(self.question_codes, minlength=1) > 1
        self.repeated = shared[self.question_codes] if self.size else np.zeros(0, dtype=bool)
        self.any_repeated = bool(self.repeated.any())
        self.repeated_count = int(np.count_nonzero(self.repeated))
        # The repeated pages grouped by question, and by (subject, question): a large match set
        # counts its distinct questions with one pass over these groups instead of a sort.
        repeated = np.flatnonzero(self.repeated)
        self._by_question = Groups(repeated, self.question_codes[repeated].astype(np.int64))
        width = int(self.question_codes.max()) + 1 if self.size else 1
        pair_codes = self.subject_codes[repeated].astype(np.int64) * width + self.question_codes[
            repeated
        ].astype(np.int64)
        self._by_pair = Groups(repeated, pair_codes)
        self._pair_subjects = (self._by_pair.codes // width).astype(np.int64)
        self._lock = threading.Lock()
        self._masks: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()

    def first_of_each_question(self, docs: np.ndarray) -> np.ndarray:
        """``docs`` less every page that asks the question of an earlier one."""
        if not self.any_repeated or not len(docs):
            return docs
        _, first = np.unique(self.question_codes[docs], return_index=True)
        return docs[np.sort(first)]

    def is_live(self, docnum: int) -> bool:
        return bool(self.live[docnum])

    def question_code(self, docnum: int) -> int:
        """The same number for pages asking the same question."""
        return int(self.question_codes[docnum])

    def distinct(self, docs: np.ndarray) -> int:
        """How many questions ``docs`` ask (each repeated question once)."""
        if not self.any_repeated or not len(docs):
            return len(docs)
        if len(docs) * 16 > self.size:  # many pages: count over the groups, no sort
            mask = np.zeros(self.size, dtype=bool)
            mask[docs] = True
            plain = int(np.count_nonzero(mask & ~self.repeated))
            return plain + int(self._by_question.any(mask).sum())
        repeated = self.repeated[docs]
        if not repeated.any():
            return len(docs)
        codes = self.question_codes[docs[repeated]]
        return int(np.count_nonzero(~repeated)) + len(np.unique(codes))

    def facets(self, docs: np.ndarray, collapse: bool) -> dict[str, int]:
        if not len(docs):
            return {}
        names = len(self.subject_names)
        if collapse and self.any_repeated:  # a question asked twice in one subject counts once
            if len(docs) * 16 > self.size:
                mask = np.zeros(self.size, dtype=bool)
                mask[docs] = True
                counts = np.bincount(
                    self.subject_codes[docs[~self.repeated[docs]]], minlength=names
                )
                held = self._by_pair.any(mask)
                counts += np.bincount(self._pair_subjects[held], minlength=names)
            else:
                codes = self.subject_codes[docs].astype(np.int64)
                repeated = self.repeated[docs]
                if repeated.any():
                    questions = self.question_codes[docs[repeated]].astype(np.int64)
                    width = int(self.question_codes.max()) + 1
                    pairs = np.unique(codes[repeated] * width + questions) // width
                    codes = np.concatenate([codes[~repeated], pairs])
                counts = np.bincount(codes, minlength=names)
        else:
            counts = np.bincount(self.subject_codes[docs], minlength=names)
        found = [(self.subject_names[i], int(c)) for i, c in enumerate(counts) if c]
        return dict(sorted(((k, v) for k, v in found if k), key=lambda kv: (-kv[1], kv[0])))

    def subject_mask(self, subject_keys: Sequence[str]) -> np.ndarray:
        """Documents whose subject's filter key is every one of ``subject_keys``."""
        cache_key = tuple(subject_keys)
        with self._lock:
            hit = self._masks.get(cache_key)
        if hit is not None:
            return hit
        keys = [subject_key(name) for name in self.subject_names]
        allowed_codes = [i for i, k in enumerate(keys) if all(k == want for want in subject_keys)]
        mask = np.isin(self.subject_codes, allowed_codes)
        with self._lock:
            self._masks[cache_key] = mask
            if len(self._masks) > 64:
                self._masks.popitem(last=False)
        return mask

    def kth(self, docs: np.ndarray, key: np.ndarray, k: int, collapse: bool) -> float:
        ordered = self.ordered(docs, key, k, collapse)
        return float(key[ordered[k - 1]]) if len(ordered) >= k else 0.0

    def ordered(self, docs: np.ndarray, key: np.ndarray, k: int, collapse: bool) -> np.ndarray:
        """Positions (into ``docs``) of the first ``k`` results in rank order: best key first,
        lower document number first on ties, and with ``collapse`` only the best page of each
        question."""
        if not len(docs):
            return np.zeros(0, dtype=np.int64)
        spare = int(np.count_nonzero(self.repeated[docs])) if collapse else 0
        reach = k + spare
        if reach < len(docs):
            # Everything tied with the reach-th key stays in, so ties break by document.
            cut = np.partition(-key, reach - 1)[reach - 1]
            top = np.flatnonzero(-key <= cut)
        else:
            top = np.arange(len(docs))
        top = top[np.lexsort((docs[top], -key[top]))]
        if collapse and spare:
            _, first = np.unique(self.question_codes[docs[top]], return_index=True)
            top = top[np.sort(first)]
        return top[:k]

    def page(
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
        rerank: Callable[[np.ndarray], np.ndarray] | None,
        *,
        exact: bool = True,
    ) -> Ranked:
        """One window (``start``, ``count``) of ``docs`` ranked by ``key``, the first
        ``PROXIMITY_DEPTH`` re-ranked by ``rerank``'s bonus of their pages when given."""
        wanted = min(total, start + count)
        top = self.ordered(docs, key, depth, collapse)
        # The proximity bonus re-ranks a fixed head of the results (the same for every page,
        # so paging stays consistent): it needs the stored questions.
        head = min(len(top), PROXIMITY_DEPTH) if rerank else 0
        extra = np.zeros(len(top), dtype=np.float64)
        if head:
            first = top[:head]
            extra[:head] = rerank(docs[first])
            boosted = key[first] + extra[:head]
            reorder = np.lexsort((docs[first], -boosted))
            top = np.concatenate([first[reorder], top[head:]])
            extra = np.concatenate([extra[:head][reorder], extra[head:]])
        page = slice(start, wanted)
        chosen = top[page]
        values = scores[chosen].astype(np.float64) + extra[page]
        return Ranked(docs[chosen].tolist(), values.tolist(), total, facets, conjunctive, exact)


class Groups:
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
