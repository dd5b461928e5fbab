"""Equivalent words, applied at query time: a query for one also finds the others.

A synonyms file has one group per line, words separated by commas; ``#`` starts a comment::

    car, automobile, auto
    heart attack, myocardial infarction    # multi-word entries are ignored for now
"""

from __future__ import annotations

import os
from functools import lru_cache

from quicksearch.analysis import terms
from quicksearch.errors import InvalidSourceError

__all__ = ["load_synonyms", "synonym_map"]

#: Weight of a synonym relative to the word typed (exact matches rank first).
SYNONYM_WEIGHT = 0.9


def load_synonyms(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], ...]:
    """Read a synonyms file into groups of words, for ``Settings(synonyms=...)``."""
    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115 - one short read
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidSourceError(
            f"cannot read synonyms file {path}: {exc}",
            hint="one group of comma-separated words per line",
        ) from None
    groups = []
    for line in text.splitlines():
        words = tuple(w.strip() for w in line.split("#", 1)[0].split(",") if w.strip())
        if len(words) > 1:
            groups.append(words)
    return tuple(groups)


@lru_cache(maxsize=8)
def synonym_map(groups: tuple[tuple[str, ...], ...]) -> dict[str, frozenset[str]]:
    """Index term → the index terms of its synonyms (single-word entries only)."""
    mapping: dict[str, set[str]] = {}
    for group in groups:
        stems = {t[0] for t in (terms(word) for word in group) if len(t) == 1}
        for stem in stems:
            mapping.setdefault(stem, set()).update(stems - {stem})
    return {k: frozenset(v) for k, v in mapping.items() if v}
