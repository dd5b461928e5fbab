""" "More like this": the query a page (or a draft) makes for its related questions.

A page's question words count most, then its keywords, then the answer's most telling words
(frequent in it, rare in the index); each becomes one clause of a long query, weighted by where
it stands, so both engines rank related pages with their usual long-question model.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any

from quicksearch.analysis import stem
from quicksearch.fields import kept_words, subject_key
from quicksearch.query import Clause

if TYPE_CHECKING:
    from quicksearch.expansion import Vocabulary

__all__ = ["like_clauses", "prefer_subject"]

#: Weights of a term found in the question, the keywords and among the answer's telling words.
QUESTION_WEIGHT = 2.0
KEYWORDS_WEIGHT = 1.0
ANSWER_WEIGHT = 1.0
#: How many of the answer's words are taken.
ANSWER_TERMS = 12
#: How much rarer words are preferred among the answer's (the tf-idf's idf, raised to it).
IDF_POWER = 1.0
#: At most this many clauses.
MAX_TERMS = 40
#: A candidate of the page's own subject gains this share of the best candidate's score (the
#: site's editors link within a subject about two times in three).
SAME_SUBJECT = 0.3
#: Candidates ranked beyond the ones shown, for the subject to reorder.
POOL = 24


def like_clauses(question: str, keywords: str, answer: str, vocabulary: Vocabulary) -> list[Clause]:
    """The weighted clauses of the query that finds pages like this text."""
    df = vocabulary.df
    weights: Counter[str] = Counter()
    for field_text, weight in ((question, QUESTION_WEIGHT), (keywords, KEYWORDS_WEIGHT)):
        for term in {stem(w) for w in kept_words(field_text)}:
            if df.get(term):
                weights[term] += weight
    if answer:
        most = vocabulary.max_df
        counts = Counter(stem(w) for w in kept_words(answer))
        telling = sorted(
            (t for t in counts if df.get(t)),
            key=lambda t: -counts[t] * math.log(1.0 + most / df[t]) ** IDF_POWER,
        )
        for term in telling[:ANSWER_TERMS]:
            weights[term] += ANSWER_WEIGHT
    chosen = weights.most_common(MAX_TERMS)
    return [Clause(((term, 1.0),), weight=weight) for term, weight in sorted(chosen)]


def prefer_subject(
    rows: list[tuple[dict[str, Any], float]], subject: str
) -> list[tuple[dict[str, Any], float]]:
    """``rows`` (best first) with those of ``subject`` raised by :data:`SAME_SUBJECT` of the
    best score, in their new order."""
    if not rows or not subject:
        return rows
    bonus = SAME_SUBJECT * max(score for _, score in rows)
    key = subject_key(subject)
    raised = [
        (row, score + bonus * (subject_key(str(row.get("subject") or "")) == key))
        for row, score in rows
    ]
    order = sorted(range(len(raised)), key=lambda i: (-raised[i][1], i))
    return [raised[i] for i in order]
