"""Typo tolerance and search-as-you-type: which index terms a typed word may stand for.

Works on the index vocabulary (every term with its document frequency); engine-free.

- A word that is unknown, or much rarer than a close neighbour, also matches index terms within
  edit distance 1 (words of 4-8 letters) or 2 (9 or more), transpositions counting as one edit.
- The last word of a query, when the query ends in it, also matches as a prefix: its most
  frequent completions, capped.
- In a query of a few words, each word's forms are then weighed by whether a question holds
  them beside the other words (:func:`in_context`), which also catches real-word typos.

Corrected and completed forms carry a weight below 1, so exact matches rank above them.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from quicksearch.analysis import stem

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
        #: The largest document frequency (the related-questions query weighs words by it).
        self.max_df = max(terms.values(), default=1)
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
    #: The corrections as written in the pages, by their terms (for "did you mean").
    spellings: tuple[tuple[str, str], ...] = ()
    #: A correction that takes the typed word's place (matched exactly, like a typed word);
    #: "" when the word as typed fits no question but a completion does (no exact form).
    word: str | None = None
    #: Score the variants with one idf (see ``Clause.shared_idf``).
    shared_idf: bool = False


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
    spellings: dict[str, str] = {}
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
            spellings.setdefault(stem(neighbour), neighbour)
        if close:
            correction = close[0][2]
    for completion in completions:
        variants.setdefault(stem(completion), COMPLETION_WEIGHT)
    return Expansion(tuple(variants.items()), correction, tuple(spellings.items()))


#: In queries of 2 to CONTEXT_MAX_WORDS words, each word's forms (as typed, completed,
#: corrected) are weighed by whether some question holds them beside the other words, as the
#: question of the page a visitor looks for does. A correction that fits takes the typed word's
#: place (weight 1, and its spelling earns the exact-form bonus) when the word as typed fits no
#: question; other fitting corrections weigh IN_CONTEXT[distance], and forms that fit no
#: question are multiplied by OUT_OF_CONTEXT when another form fits.
CONTEXT_MAX_WORDS = 4
IN_CONTEXT = {1: 0.9, 2: 0.75}
COMPLETION_IN_CONTEXT = 0.9
OUT_OF_CONTEXT = 0.5


class QuestionCounts(Protocol):
    def __call__(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]: ...


def in_context(
    expansions: list[Expansion],
    words: Sequence[str],
    question_counts: QuestionCounts,
    vocabulary: Vocabulary,
    prefix: str | None = None,
) -> list[Expansion]:
    """Each word's forms weighed by whether a question holds them beside the query's other
    words (see :data:`IN_CONTEXT`). A word that fits no question as typed, nor as any of its
    usual corrections, is tried against all its spelling neighbours (also with a plural ``s``
    added or dropped, and from three letters on): "machine teams" for "machine terms"."""
    if not 2 <= len(expansions) <= CONTEXT_MAX_WORDS:
        return expansions
    groups = [[t for t, _ in e.variants] for e in expansions]
    probes = [(i, t) for i, group in enumerate(groups) for t in group]
    counts = dict(zip(probes, question_counts(groups, probes), strict=True))
    out = []
    for i, (expansion, word) in enumerate(zip(expansions, words, strict=True)):
        group = groups[i]
        typed = group[0]
        if counts[(i, typed)]:
            # Fits as typed: forms that fit no question step back.
            if len(group) > 1:
                expansion = _reweigh(expansion, counts, i, {})
            out.append(expansion)
            continue
        distances: dict[str, int] = {}
        spellings = dict(expansion.spellings)
        completed = word == prefix and any(counts[(i, t)] for t in group[1:])
        if not completed:
            wider = _neighbours(word, vocabulary, exclude=set(group))
            if wider:
                found = question_counts(groups, [(i, t) for t in wider])
                for (term, (spelling, d)), count in zip(wider.items(), found, strict=True):
                    if count:
                        counts[(i, term)] = count
                        distances[term] = d
                        spellings[term] = spelling
        for term, spelling in expansion.spellings:
            distances.setdefault(term, _distance(word, spelling))
        fitting = [t for t in distances if counts.get((i, t))]
        variants = dict(expansion.variants)
        for term in distances:
            variants.setdefault(term, CORRECTION_WEIGHT[distances[term]])
        expansion = Expansion(
            tuple(variants.items()), expansion.correction, tuple(spellings.items())
        )
        if not fitting:
            if any(counts.get((i, t)) for t in variants):
                expansion = _reweigh(expansion, counts, i, {})
                expansion = dataclasses.replace(expansion, word="", shared_idf=True)
            out.append(expansion)
            continue
        best = min(fitting, key=lambda t: (distances[t], -counts[(i, t)]))
        expansion = _reweigh(expansion, counts, i, distances)
        ordered = dict(expansion.variants)
        ordered.pop(best)
        out.append(
            Expansion(
                ((best, 1.0), *ordered.items()),
                spellings[best],
                tuple(spellings.items()),
                word=spellings[best],
            )
        )
    return out


def _reweigh(
    expansion: Expansion, counts: dict[tuple[int, str], int], i: int, distances: dict[str, int]
) -> Expansion:
    if not any(counts.get((i, t)) for t, _ in expansion.variants):
        return expansion
    variants = []
    for term, weight in expansion.variants:
        if not counts.get((i, term)):
            weight *= OUT_OF_CONTEXT
        elif term in distances:
            weight = max(weight, IN_CONTEXT[distances[term]])
        elif weight < 1.0:
            weight = max(weight, COMPLETION_IN_CONTEXT)
        variants.append((term, weight))
    return Expansion(tuple(variants), expansion.correction, expansion.spellings, expansion.word)


def _distance(word: str, spelling: str) -> int:
    return min(2, max(1, int(OSA.distance(word, spelling))))


def _neighbours(word: str, vocabulary: Vocabulary, exclude: set[str]) -> dict[str, tuple[str, int]]:
    """Index terms within typo distance of ``word`` or of it with a plural ``s`` flipped:
    term -> (a spelling, distance)."""
    forms = {word: 0}
    if len(word) >= 4:
        forms[word[:-1] if word.endswith("s") else word + "s"] = 1
    found: dict[str, tuple[str, int]] = {}
    for form, extra in forms.items():
        limit = _typo_distance(form) or (1 if len(form) == 3 else 0)
        if not limit:
            continue
        for neighbour, d in vocabulary.neighbours(form, limit):
            term = stem(neighbour)
            d = min(2, d + extra)
            if term in exclude or not vocabulary.df.get(term):
                continue
            if term not in found or d < found[term][1]:
                found[term] = (neighbour, d)
    return found
