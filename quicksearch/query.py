"""Turn what a person typed into a :class:`ParsedQuery`. Never raises, whatever the input.

Understood syntax: plain words, ``"exact phrase"``, ``-excluded`` words or phrases and
``subject:physics`` (``subject:"computer science"``). Anything else is read as words. Words are
analysed with the same chain as the index, so stop words drop out and inflections meet.
Engine-free: the searcher turns a ParsedQuery into an engine query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .analysis import terms as analyze_terms
from .cleaning import canonical_subject

__all__ = ["ParsedQuery", "parse_query"]

_CLAUSE = re.compile(
    r'(?P<neg>-?)(?:(?P<field>subject):(?:"(?P<fquoted>[^"]*)"?|(?P<fword>[^\s"]+))'
    r'|"(?P<phrase>[^"]*)"?'
    r"|(?P<word>[^\s\"]+))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedQuery:
    """The meaning of a query string: required terms and phrases, exclusions and filters."""

    text: str
    terms: tuple[str, ...] = ()
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


def _dedupe(items: list) -> tuple:  # type: ignore[type-arg]
    return tuple(dict.fromkeys(items))


def parse_query(text: str, *, max_chars: int = 1_000, max_terms: int = 32) -> ParsedQuery:
    """Parse ``text``; input past ``max_chars`` or ``max_terms`` terms is cut, not refused."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text[:max_chars]
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    ex_terms: list[str] = []
    ex_phrases: list[tuple[str, ...]] = []
    subjects: list[str] = []

    for m in _CLAUSE.finditer(text):
        negated = bool(m.group("neg"))
        if m.group("field"):
            value = m.group("fquoted") if m.group("fquoted") is not None else m.group("fword")
            subject = canonical_subject(value or "")
            if subject and not negated:
                subjects.append(subject)
            continue
        chunk = m.group("phrase") if m.group("phrase") is not None else m.group("word")
        words = analyze_terms(chunk or "")
        if not words:
            continue
        if negated:
            (ex_terms.extend(words) if len(words) == 1 else ex_phrases.append(tuple(words)))
        elif len(words) == 1:
            terms.append(words[0])
        else:
            # A quoted phrase, or one word the analyser splits (x-ray, covid-19): keep it whole.
            phrases.append(tuple(words[:max_terms]))

    terms_t = _dedupe(terms)[:max_terms]
    phrases_t = _dedupe(phrases)[: max(0, max_terms - len(terms_t)) or 0]
    return ParsedQuery(
        text=text,
        terms=terms_t,
        phrases=phrases_t,
        excluded_terms=_dedupe(ex_terms)[:max_terms],
        excluded_phrases=_dedupe(ex_phrases)[:max_terms],
        subjects=_dedupe(subjects)[:4],
    )
