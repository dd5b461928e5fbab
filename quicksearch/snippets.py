"""Snippets and highlighting: pure functions of (text, matched index terms).

The passage shown is one to three whole sentences that cover the most distinct query terms,
closest together; every word whose analysed form was matched is marked. Output is escaped HTML
with only the mark tags as markup, plus the plain text and the marked spans for apps that render
themselves. Engine-free, so it is tested without an index.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from quicksearch.analysis import TOKEN_PATTERN, analyze, term_of

__all__ = ["Snippet", "highlight", "make_snippet"]

DEFAULT_TAGS = ("<mark>", "</mark>")
TOKEN_RE = re.compile(TOKEN_PATTERN)
_NON_ASCII_LETTER = re.compile(r"[^\W\x00-\x7f]")
_APOSTROPHE = re.compile(r"['’]")
_SEPARATED_NUMBER = re.compile(r"\d[.,]\d")
ELLIPSIS = "…"

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before a space,
# or at a line break. (The pattern starts with a character class, so the regex engine skips
# ahead to the candidates: several times faster on long answers than a leading look-behind.)
_SENTENCE_END = re.compile(r"[.!?\n](?:(?<=[.!?])([\"')\]]?\s+)|(?<=\n)\n*)")


@dataclass(frozen=True)
class Snippet:
    """A highlighted passage: ``html`` (escaped + marks), ``text`` and the marked ``spans``."""

    html: str
    text: str
    spans: tuple[tuple[int, int], ...]


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start(1) if m.lastindex else m.start()
        if end > start:
            spans.append((start, end))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _render(text: str, spans: list[tuple[int, int]], tags: tuple[str, str]) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(html.escape(text[last:start], quote=False))
        out.append(tags[0] + html.escape(text[start:end], quote=False) + tags[1])
        last = end
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


@lru_cache(maxsize=1024)
def _finder(terms: frozenset[str]) -> tuple[tuple[str, ...], re.Pattern[str] | None, bool]:
    """Where a word of ``terms`` may begin: prefixes of three letters or more (found with
    ``str.find``, in C), a pattern for shorter ones (they occur inside many words, so only
    word starts are wanted), and whether any term starts with a digit."""
    prefixes = {t[: max(1, len(t) - 1)] for t in terms if t}
    # A prefix that extends another finds nothing the shorter one does not: a completed word
    # ("met" -> metal, method, metabolism, ... 40 terms) is then searched for once, not 40 times.
    long = tuple(_shortest_covering(sorted(p for p in prefixes if len(p) >= 3)))
    short = sorted((p for p in prefixes if len(p) < 3), key=len, reverse=True)
    pattern = (
        re.compile(r"(?<![\w'’])(?:" + "|".join(map(re.escape, short)) + ")") if short else None
    )
    return long, pattern, any(t[:1].isdigit() for t in terms)


def _shortest_covering(ordered: list[str]) -> list[str]:
    """Of sorted prefixes, those no other one in the list begins."""
    kept: list[str] = []
    for prefix in ordered:
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return kept


def _chunk(text: str, at: int) -> tuple[int, int]:
    """The whitespace-delimited run around ``at`` (tokens never cross whitespace)."""
    start = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at)) + 1
    ends = [e for e in (text.find(" ", at), text.find("\n", at)) if e != -1]
    return start, min(ends, default=len(text))


def _match_spans(text: str, terms: Collection[str]) -> list[tuple[int, int, str]]:
    """``(start, end, term)`` of every token of ``text`` whose index term is in ``terms``.

    Equal to running the analysis over the whole text, but only the few words that can match
    are analysed: a Snowball stem keeps all but at most the last letter of its word, so such a
    word starts with the stem's prefix, which one regular expression finds at word starts.
    Words the analysis folds (apostrophes, separated numbers, non-ASCII letters) are always
    looked at.
    """
    if not terms:
        return []
    wanted = terms if isinstance(terms, frozenset) else frozenset(terms)
    lower = text.lower()
    if len(lower) != len(text):  # a rare letter whose lower case is longer: analyse everything
        return [(t.start, t.end, t.term) for t in analyze(text) if t.term in wanted]
    prefixes, pattern, numeric = _finder(wanted)
    starts: list[int] = []
    for prefix in prefixes:
        at = lower.find(prefix)
        while at != -1:
            starts.append(at)
            at = lower.find(prefix, at + 1)
    if pattern is not None:
        starts.extend(m.start() for m in pattern.finditer(lower))
    spans: list[tuple[int, int, str]] = []
    done: set[int] = set()
    for at in starts:
        # Only a word's start can begin a matching word (TOKEN_RE.match then fails inside one).
        if at and (lower[at - 1].isalnum() or lower[at - 1] in "_'’"):
            continue
        m = TOKEN_RE.match(text, at)
        if m is None or at in done:
            continue
        done.add(at)
        term = term_of(m.group())
        if term in wanted:
            spans.append((at, m.end(), term))
    hits: list[int] = []
    if not text.isascii():
        hits.extend(m.start() for m in _NON_ASCII_LETTER.finditer(text))
    if "'" in text or "’" in text:
        hits.extend(m.start() for m in _APOSTROPHE.finditer(text))
    if numeric:
        hits.extend(m.start() for m in _SEPARATED_NUMBER.finditer(text))
    chunks: set[int] = set()
    for at in sorted(hits):
        start, end = _chunk(text, at)
        if start in chunks:
            continue
        chunks.add(start)
        for m in TOKEN_RE.finditer(text, start, end):
            if m.start() in done:
                continue
            done.add(m.start())
            term = term_of(m.group())
            if term in wanted:
                spans.append((m.start(), m.end(), term))
    spans.sort()
    return spans


def highlight(
    text: str, terms: Collection[str], *, tags: tuple[str, str] = DEFAULT_TAGS
) -> Snippet:
    """All of ``text`` with every word whose index term is in ``terms`` marked (for titles)."""
    spans = [(s, e) for s, e, _ in _match_spans(text, terms)]
    return Snippet(_render(text, spans, tags), text, tuple(spans))


def _cut_left(text: str, pos: int, floor: int) -> int:
    """Move ``pos`` back to the start of a word, not before ``floor``."""
    while pos > floor and not text[pos - 1].isspace():
        pos -= 1
    return pos


def _cut_right(text: str, pos: int, ceiling: int) -> int:
    """Move ``pos`` back to the end of a word, not past ``ceiling``."""
    pos = min(pos, ceiling)
    if pos >= ceiling:
        return ceiling
    while pos > 0 and not text[pos].isspace() and not text[pos - 1].isspace():
        pos -= 1
    return pos


def make_snippet(
    text: str,
    terms: Collection[str],
    *,
    target_chars: int = 200,
    max_chars: int = 300,
    tags: tuple[str, str] = DEFAULT_TAGS,
) -> Snippet:
    """Choose and highlight the best passage of ``text`` for the matched index ``terms``."""
    text = text.strip()
    if not text:
        return Snippet("", "", ())
    sentences = _sentences(text)
    matches = _match_spans(text, terms)
    starts = [m[0] for m in matches]

    def in_range(lo: int, hi: int) -> list[tuple[int, int, str]]:
        return matches[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]

    # Pick the window of 1-3 sentences with the most distinct terms, then the tightest cluster
    # of matches, preferring the opening sentence and earlier text on ties. Only windows with a
    # match can win when there is one, so only those are weighed.
    best_key, best = None, (0, 0)
    sentence_starts = [lo for lo, _ in sentences]
    holding = sorted({bisect.bisect_right(sentence_starts, at) - 1 for at in starts})
    firsts = sorted({k - d for k in holding for d in range(3) if k - d >= 0})
    for i in firsts:
        for j in range(i, min(i + 3, len(sentences))):
            lo, hi = sentences[i][0], sentences[j][1]
            if j > i and hi - lo > max_chars:
                break
            found = in_range(lo, hi)
            if not found:
                continue
            distinct = len({m[2] for m in found})
            spread = found[-1][1] - found[0][0]
            leads = found[0][0] < sentences[i][1]
            # The opening sentence wins when it alone covers what the whole window covers.
            opens = (
                i == 0 and leads and len({m[2] for m in in_range(lo, sentences[0][1])}) == distinct
            )
            key = (distinct, opens, -spread, len(found), leads, -(j - i), -i)
            if best_key is None or key > best_key:
                best_key, best = key, (i, j)

    i, j = best
    lo, hi = sentences[i][0], sentences[j][1]
    # Grow a short passage with the following sentences, up to the target length.
    while hi - lo < target_chars and j + 1 < len(sentences):
        nxt = sentences[j + 1][1]
        if nxt - lo > max_chars:
            break
        j, hi = j + 1, nxt
    if hi - lo > max_chars:
        # One long sentence: keep the part around the first match, cut at word boundaries.
        found = in_range(lo, hi)
        anchor = found[0][0] if found else lo
        start = lo if anchor - lo < max_chars // 3 else _cut_left(text, anchor - max_chars // 4, lo)
        end = _cut_right(text, start + max_chars, hi)
        lo, hi = start, max(end, min(hi, start + 1))

    body = " ".join(text[lo:hi].split())  # one line, single spaces
    starts_at_top = text[:lo].strip() == ""
    ends_at_bottom = text[hi:].strip() == ""
    prefix = "" if starts_at_top else ELLIPSIS + " "
    suffix = "" if ends_at_bottom else " " + ELLIPSIS
    shift = len(prefix)
    spans = [(s + shift, e + shift) for s, e, _ in _match_spans(body, terms)]
    snippet_text = prefix + body + suffix
    return Snippet(_render(snippet_text, spans, tags), snippet_text, tuple(spans))
