"""Typo tolerance and search-as-you-type: which index terms a typed word may stand for.

Works on the index vocabulary (every term with its document frequency); engine-free.

- A word that is unknown, or much rarer than a close neighbour, also matches index terms within
  edit distance 1 (words of 5-8 letters) or 2 (9 or more), transpositions counting as one edit.
- The last word of a query, when the query ends in it, also matches as a prefix: its most
  frequent completions, capped.

Corrected and completed forms carry a weight below 1, so exact matches rank above them.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

__all__ = ["Expansion", "Vocabulary", "expand_word"]

#: A word at most this frequent may be a typo when a neighbour is far more frequent.
RARE_DF = 3
#: ...where "far more" means at least this many times as frequent (and at least MIN_NEIGHBOUR_DF).
NEIGHBOUR_RATIO = 10
MIN_NEIGHBOUR_DF = 3
MAX_CORRECTIONS = 4
MAX_COMPLETIONS = 40
MIN_PREFIX_LETTERS = 3
CORRECTION_WEIGHT = {1: 0.8, 2: 0.65}
COMPLETION_WEIGHT = 0.9


class Vocabulary:
    """The index terms and their document frequencies, searchable by prefix and by spelling."""

    def __init__(self, frequencies: dict[str, int]) -> None:
        self.df = frequencies
        self.terms = sorted(frequencies)
        self._by_length: dict[int, list[str]] = {}
        for term in self.terms:
            self._by_length.setdefault(len(term), []).append(term)

    def __len__(self) -> int:
        return len(self.terms)

    def completions(self, prefix: str, limit: int = MAX_COMPLETIONS) -> list[str]:
        """The ``limit`` most frequent terms that start with ``prefix``."""
        lo = bisect.bisect_left(self.terms, prefix)
        hi = bisect.bisect_left(self.terms, prefix + "\U0010ffff")
        return heapq.nlargest(limit, self.terms[lo:hi], key=self.df.__getitem__)

    def neighbours(self, term: str, max_distance: int) -> list[tuple[str, int]]:
        """Terms within ``max_distance`` edits of ``term`` (adjacent swaps count as one)."""
        choices: list[str] = []
        for length in range(len(term) - max_distance, len(term) + max_distance + 1):
            choices.extend(self._by_length.get(length, ()))
        found = process.extract(
            term, choices, scorer=OSA.distance, score_cutoff=max_distance, limit=None
        )
        return [(choice, int(distance)) for choice, distance, _ in found if choice != term]


@dataclass(frozen=True)
class Expansion:
    """The index terms one typed word stands for, with weights, and the best correction."""

    variants: tuple[tuple[str, float], ...]
    correction: str | None = None  # the term that replaces an unknown or rare word


def _typo_distance(word: str) -> int:
    if len(word) >= 9:
        return 2
    return 1 if len(word) >= 5 else 0


def expand_word(
    term: str, word: str, vocabulary: Vocabulary, *, is_prefix: bool = False
) -> Expansion:
    """Variants of one query word: itself, typo corrections when it is unknown or rare, and
    completions when it may be unfinished. ``term`` is its stem, ``word`` as typed (normalised)."""
    variants: dict[str, float] = {term: 1.0}
    df = vocabulary.df.get(term, 0)
    correction = None
    distance = _typo_distance(word)
    if distance and df <= RARE_DF and not (is_prefix and vocabulary.completions(word, 1)):
        floor = max(MIN_NEIGHBOUR_DF, NEIGHBOUR_RATIO * (df + 1) if df else MIN_NEIGHBOUR_DF)
        close = [
            (t, d) for t, d in vocabulary.neighbours(term, distance) if vocabulary.df[t] >= floor
        ]
        close.sort(key=lambda td: (td[1], -vocabulary.df[td[0]]))
        for neighbour, d in close[:MAX_CORRECTIONS]:
            variants.setdefault(neighbour, CORRECTION_WEIGHT[d])
        if close:
            correction = close[0][0]
    if is_prefix and len(word) >= MIN_PREFIX_LETTERS:
        for completion in _completions(word, term, vocabulary):
            variants.setdefault(completion, COMPLETION_WEIGHT)
    return Expansion(tuple(variants.items()), correction)


def _completions(word: str, term: str, vocabulary: Vocabulary) -> Iterable[str]:
    yield from vocabulary.completions(word)
    if term != word:
        yield from vocabulary.completions(term, MAX_COMPLETIONS // 4)
    # Typed past the end of a stem ("regulat" for "regul"): the stem and its family.
    for cut in range(1, 4):
        stem = word[:-cut]
        if len(stem) >= MIN_PREFIX_LETTERS and stem in vocabulary.df:
            yield stem
