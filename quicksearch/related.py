""" "More like this": the query a page (or a draft) makes for its related questions.

A page's question words count most, then its keywords, then the answer's most telling words
(frequent in it, rare in the index); each becomes one clause of a long query, weighted by where
it stands, so both engines rank related pages with their usual long-question model.
"""

from __future__ import annotations

import math
from collections import Counter

from .analysis import stem
from .ranking import Clause
from .schema import kept_words

__all__ = ["like_clauses"]

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


def like_clauses(question: str, keywords: str, answer: str, df: dict[str, int]) -> list[Clause]:
    """The weighted clauses of the query that finds pages like this text."""
    weights: Counter[str] = Counter()
    for field_text, weight in ((question, QUESTION_WEIGHT), (keywords, KEYWORDS_WEIGHT)):
        for term in {stem(w) for w in kept_words(field_text)}:
            if df.get(term):
                weights[term] += weight
    if answer:
        most = max(df.values(), default=1)
        counts = Counter(stem(w) for w in kept_words(answer))
        telling = sorted(
            (t for t in counts if df.get(t)),
            key=lambda t: -counts[t] * math.log(1.0 + most / df[t]) ** IDF_POWER,
        )
        for term in telling[:ANSWER_TERMS]:
            weights[term] += ANSWER_WEIGHT
    chosen = weights.most_common(MAX_TERMS)
    return [Clause(((term, 1.0),), weight=weight) for term, weight in sorted(chosen)]
