"""Field names and the keys derived from a page's text, shared by every engine (engine-free)."""

from __future__ import annotations

import re

from quicksearch.analysis import TOKEN_PATTERN, normalize_word, stem

__all__ = [
    "EXACT_FIELD",
    "KEYWORD_SEPARATOR",
    "RANKED_FIELDS",
    "TEXT_FIELDS",
    "kept_words",
    "question_key",
    "question_stems",
    "subject_key",
]

_TOKEN = re.compile(TOKEN_PATTERN)

TEXT_FIELDS = ("question", "keywords", "answer")
#: A question-only field that adds to the score of documents already matched.
EXACT_FIELD = "question_exact"
#: Fields the ranker reads postings of (written again beside each segment, see postings.py).
RANKED_FIELDS = (*TEXT_FIELDS, EXACT_FIELD)

# Keywords are stored joined by this separator and split back when read.
KEYWORD_SEPARATOR = " , "


def subject_key(subject: str) -> str:
    """The filter key of a (canonical) subject."""
    return subject.casefold()


def question_key(question: str) -> str:
    """Equal for questions that differ only in case, punctuation or spacing."""
    return " ".join(re.findall(r"\w+", question.casefold()))


_last_words: tuple[str, list[str]] = ("", [])


def question_stems(question: str) -> str:
    """A question's index terms in order, space-separated: what the proximity bonus reads."""
    return " ".join(stem(w) for w in kept_words(question))


def kept_words(text: str) -> list[str]:
    """The normalised words of ``text`` that the analysis keeps, in order (do not modify).

    The last result is kept: a page's question is indexed in three fields in a row."""
    global _last_words
    if text is _last_words[0]:
        return _last_words[1]
    words = list(filter(None, map(normalize_word, _TOKEN.findall(text))))
    _last_words = (text, words)
    return words
