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
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .analysis import stem

__all__ = ["Expansion", "Vocabulary", "expand_word"]

#: An unknown word may be a typo of any neighbour in the index; a known word at most this
#: frequent, of a neighbour NEIGHBOUR_RATIO times as frequent.
RARE_DF = 20
NEIGHBOUR_RATIO = 20
MAX_CORRECTIONS = 4
MAX_COMPLETIONS = 40
MIN_PREFIX_LETTERS = 3
CORRECTION_WEIGHT = {1: 0.8, 2: 0.65}
COMPLETION_WEIGHT = 0.9


class Vocabulary:
    """The index terms (stems, with document frequencies) and the words as written in the
    pages (with counts): searchable by prefix and by spelling."""

    def __init__(self, terms: dict[str, int], words: dict[str, int] | None = None) -> None:
        self.df = terms
        # Without recorded words (an older index), the stems stand in for them.
        self.words = words or terms
        self._sorted_words = sorted(self.words)
        self._by_length: dict[int, list[str]] = {}
        for word in self._sorted_words:
            self._by_length.setdefault(len(word), []).append(word)
        self._signatures: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.df)

    def completions(self, prefix: str, limit: int = MAX_COMPLETIONS) -> list[str]:
        """The ``limit`` most frequent words that start with ``prefix``."""
        lo = bisect.bisect_left(self._sorted_words, prefix)
        hi = bisect.bisect_left(self._sorted_words, prefix + "\U0010ffff")
        return heapq.nlargest(limit, self._sorted_words[lo:hi], key=self.words.__getitem__)

    def prepare(self) -> None:
        """Compute the spelling signatures now rather than on the first typos."""
        for length in self._by_length:
            self._signature_table(length)

    def _signature_table(self, length: int) -> np.ndarray:
        table = self._signatures.get(length)
        if table is None:
            words = self._by_length.get(length, ())
            table = np.fromiter(map(_signature, words), dtype=np.uint64, count=len(words))
            self._signatures[length] = table
        return table

    def neighbours(self, word: str, max_distance: int) -> list[tuple[str, int]]:
        """Words within ``max_distance`` edits of ``word`` (adjacent swaps count as one)."""
        # One edit changes the set of a word's characters by at most one in and one out, so
        # a neighbour's signature differs from the word's in at most 2 bits per edit: a
        # vectorised filter that keeps every neighbour and drops most other words.
        mine = np.uint64(_signature(word))
        choices: list[str] = []
        for length in range(len(word) - max_distance, len(word) + max_distance + 1):
            words = self._by_length.get(length)
            if not words:
                continue
            close = _popcount(self._signature_table(length) ^ mine) <= 2 * max_distance
            choices.extend(words[i] for i in np.flatnonzero(close).tolist())
        found = process.extract(
            word, choices, scorer=OSA.distance, score_cutoff=max_distance, limit=None
        )
        return [(choice, int(distance)) for choice, distance, _ in found if choice != word]


def _signature(word: str) -> int:
    """The set of a word's characters, one bit per character code modulo 64."""
    bits = 0
    for char in word:
        bits |= 1 << (ord(char) & 63)
    return bits


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(values)
    return _BYTE_POPCOUNT[values.view(np.uint8)].reshape(-1, 8).sum(axis=1)


@dataclass(frozen=True)
class Expansion:
    """The index terms one typed word stands for, with weights, and its best correction
    (a word as written in the pages), if it looked like a typo."""

    variants: tuple[tuple[str, float], ...]
    correction: str | None = None


def _typo_distance(word: str) -> int:
    if len(word) >= 9:
        return 2
    return 1 if len(word) >= 4 else 0


def expand_word(
    term: str, word: str, vocabulary: Vocabulary, *, is_prefix: bool = False
) -> Expansion:
    """Variants of one query word: itself, typo corrections when it is unknown or much rarer
    than a close neighbour, and completions when it may be unfinished. ``term`` is its stem,
    ``word`` as typed (normalised)."""
    variants: dict[str, float] = {term: 1.0}
    df = vocabulary.df.get(term, 0)
    completions = (
        vocabulary.completions(word) if is_prefix and len(word) >= MIN_PREFIX_LETTERS else []
    )
    correction = None
    distance = _typo_distance(word)
    if distance and df <= RARE_DF and not any(c != word for c in completions):
        floor = max(1, NEIGHBOUR_RATIO * df)
        close = []
        for neighbour, d in vocabulary.neighbours(word, distance):
            stem_df = vocabulary.df.get(stem(neighbour), 0)
            if stem_df >= floor:
                close.append((d, -stem_df, neighbour))
        close.sort()
        for d, _, neighbour in close[:MAX_CORRECTIONS]:
            variants.setdefault(stem(neighbour), CORRECTION_WEIGHT[d])
        if close:
            correction = close[0][2]
    for completion in completions:
        variants.setdefault(stem(completion), COMPLETION_WEIGHT)
    return Expansion(tuple(variants.items()), correction)
