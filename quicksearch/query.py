"""Turn what a person typed into a :class:`ParsedQuery`. Never raises, whatever the input.

Understood syntax: plain words, ``"exact phrase"``, ``-excluded`` words or phrases and
``subject:physics`` (``subject:"computer science"``). Anything else is read as words. Words are
analysed with the same chain as the index, so stop words drop out and inflections meet.
Engine-free: the searcher turns a ParsedQuery into :class:`Clause` objects, what every engine
ranks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from quicksearch.analysis import STOP_WORDS, analyze, fold_word, stem
from quicksearch.cleaning import canonical_subject

__all__ = ["Clause", "ParsedQuery", "parse_query", "searchable_text"]

_CLAUSE = re.compile(
    r'(?P<neg>-?)(?:(?P<field>subject):(?:"(?P<fquoted>[^"]*)"?|(?P<fword>[^\s"]+))'
    r'|"(?P<phrase>[^"]*)"?'
    r"|(?P<word>[^\s\"]+))",
    re.IGNORECASE,
)


#: Never part of a word, and unwelcome when a query is echoed back into a page or a log.
_UNSEARCHABLE = re.compile(r"[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def searchable_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``, angle brackets and control characters read as spaces."""
    return _UNSEARCHABLE.sub(" ", text[:max_chars])


@dataclass(frozen=True)
class ParsedQuery:
    """The meaning of a query string: required terms and phrases, exclusions and filters."""

    text: str
    terms: tuple[str, ...] = ()
    #: The typed word of each term, normalised but not stemmed (for typo and prefix matching).
    words: tuple[str, ...] = ()
    #: How many times each term occurs in the query.
    counts: tuple[int, ...] = ()
    #: A pasted question or description rather than a few typed words (see ``parse_query``).
    long: bool = False
    #: The last word, when the query ends in it: it may be unfinished (search-as-you-type).
    prefix: str | None = None
    #: A stop word of three letters or more that ends the query, dropped from ``terms``: it may
    #: be the start of another word ("applications the" on the way to "therapy").
    trailing_stop: str | None = None
    #: Indices into ``terms`` of the words joined by OR (``cats OR dogs``): either may match.
    alternatives: tuple[tuple[int, ...], ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded_terms: tuple[str, ...] = ()
    excluded_phrases: tuple[tuple[str, ...], ...] = ()
    subjects: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing positive is asked for (no term, phrase or subject)."""
        return not (self.terms or self.phrases or self.subjects)

    @property
    def highlight_terms(self) -> frozenset[str]:
        """Index terms to mark in titles and snippets."""
        return frozenset(self.terms) | {t for p in self.phrases for t in p}


def parse_query(
    text: str, *, max_chars: int = 1_000, max_terms: int = 32, long_query_words: int = 0
) -> ParsedQuery:
    """Parse ``text``; input past ``max_chars`` or ``max_terms`` terms is cut, not refused.

    A query of more than ``long_query_words`` words (when that is not 0) is ``long``: a pasted
    question or description, whose quotes are prose, not syntax, so quoted words count one by
    one instead of as a phrase.

    Angle brackets and control characters are read as spaces (they are never part of a word),
    so ``ParsedQuery.text``, which results echo, holds no markup.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = searchable_text(text, max_chars)
    terms: dict[str, str] = {}  # term -> typed word, in query order
    counts: dict[str, int] = {}
    groups: list[tuple[tuple[str, ...], tuple[str, ...]]] = []  # a phrase's terms and words
    phrases: list[tuple[str, ...]] = []
    ex_terms: list[str] = []
    ex_phrases: list[tuple[str, ...]] = []
    subjects: list[str] = []
    prefix = None
    either: list[list[str]] = []  # runs of words joined by OR
    joining = False

    trailing = None
    for m in _CLAUSE.finditer(text):
        prefix = trailing = None
        if m.group("word") == "OR" and not m.group("neg"):
            joining = bool(either)  # "a OR b": b joins a's run; a leading OR is just a word
            continue
        was_joining, joining = joining, False
        negated = bool(m.group("neg"))
        if m.group("field"):
            value = m.group("fquoted") if m.group("fquoted") is not None else m.group("fword")
            subject = canonical_subject(value or "")
            if subject and not negated:
                subjects.append(subject)
            continue
        quoted = m.group("phrase") is not None
        tokens = list(analyze(m.group("phrase") if quoted else m.group("word"), stemming=False))
        if not tokens:
            raw = fold_word(m.group("word") or "")
            if not quoted and not negated and m.end() == len(text) and len(raw) >= 3:
                trailing = raw if raw in STOP_WORDS else None
            continue
        words = [stem(t.term) for t in tokens]
        if negated:
            (ex_terms.extend(words) if len(words) == 1 else ex_phrases.append(tuple(words)))
        elif quoted and len(words) > 1:
            groups.append((tuple(words), tuple(t.term for t in tokens)))
            phrases.append(tuple(words[:max_terms]))
        else:
            # A word, or one the analyser splits (x-ray, covid-19, shock-sound): its parts are
            # words of their own, which the proximity bonus rewards for standing together.
            for term, token in zip(words, tokens, strict=True):
                terms.setdefault(term, token.term)
                counts[term] = counts.get(term, 0) + 1
            if len(words) == 1 and was_joining:
                either[-1].append(words[0])
            else:
                either.extend([term] for term in words)
            if len(words) == 1 and not quoted and m.end() == len(text):
                prefix = tokens[0].term

    long = 0 < long_query_words < len(terms)
    if long:  # quotes in a pasted question are prose: their words count one by one
        for group_terms, group_words in groups:
            for term, word in zip(group_terms, group_words, strict=True):
                terms.setdefault(term, word)
                counts[term] = counts.get(term, 0) + 1
        phrases = []
    kept = list(terms.items())[:max_terms]
    index = {t: i for i, (t, _) in enumerate(kept)}
    alternatives = tuple(
        tuple(dict.fromkeys(index[t] for t in run if t in index))
        for run in either
        if len({t for t in run if t in index}) > 1
    )
    phrases_t = tuple(dict.fromkeys(phrases))[: max(0, max_terms - len(kept))]
    return ParsedQuery(
        text=text,
        terms=tuple(t for t, _ in kept),
        words=tuple(w for _, w in kept),
        counts=tuple(counts[t] for t, _ in kept),
        long=long,
        prefix=prefix if prefix in dict(kept).values() else None,
        trailing_stop=trailing if kept and not long else None,
        alternatives=alternatives,
        phrases=phrases_t,
        excluded_terms=tuple(dict.fromkeys(ex_terms))[:max_terms],
        excluded_phrases=tuple(dict.fromkeys(ex_phrases))[:max_terms],
        subjects=tuple(dict.fromkeys(subjects))[:4],
    )


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
    #: Score every variant with the idf of all of them together (a word still being typed:
    #: whichever completion a page holds, it is as likely the one meant).
    shared_idf: bool = False
