"""The Whoosh schema and the adapter that runs quicksearch's analysis chain inside Whoosh."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import pickle
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from whoosh import fields, formats
from whoosh.analysis import Token, Tokenizer
from whoosh.system import pack_uint

from .analysis import TOKEN_PATTERN, analyze, normalize_word, stem
from .models import Document

_TOKEN = re.compile(TOKEN_PATTERN)

_word_counts: Counter[str] | None = None


@contextlib.contextmanager
def counting_words() -> Iterator[Counter[str]]:
    """Count the (unstemmed) words the analyzer sees while indexing, for typo correction and
    completion. The count lives outside the analyzer, which Whoosh pickles into the index."""
    global _word_counts
    _word_counts = Counter()
    try:
        yield _word_counts
    finally:
        _word_counts = None


class QuickAnalyzer(Tokenizer):
    """Whoosh face of :func:`quicksearch.analysis.analyze` (pickled into the index's schema)."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def __call__(  # type: ignore[override]
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        counts = _word_counts
        for term, pos, start, end in analyze(value):
            if counts is not None:
                counts[normalize_word(value[start:end])] += 1
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


class _TermsAnalyzer(Tokenizer):
    """A Whoosh analyzer that only needs the terms (no positions): subclasses give them."""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))

    def terms(self, value: str) -> list[str]:
        raise NotImplementedError

    def __call__(self, value: str, **kwargs: Any) -> Iterator[Token]:  # type: ignore[override]
        token = Token(**{k: v for k, v in kwargs.items() if k in ("removestops", "mode")})
        for term in self.terms(value):
            token.text, token.boost, token.stopped = term, 1.0, False
            yield token


class ExactWordsAnalyzer(_TermsAnalyzer):
    """Question words as written (normalised, not stemmed): rewards the exact form typed."""

    def terms(self, value: str) -> list[str]:
        return [t.term for t in analyze(value, stemming=False)]


class WordPairsAnalyzer(_TermsAnalyzer):
    """Adjacent pairs of question terms ("play case"): rewards query words that stand together."""

    def terms(self, value: str) -> list[str]:
        stems = [t.term for t in analyze(value)]
        return [pair_term(a, b) for a, b in itertools.pairwise(stems)]


def pair_term(first: str, second: str) -> str:
    return f"{first} {second}"


def question_key(question: str) -> str:
    """Equal for questions that differ only in case, punctuation or spacing."""
    return " ".join(re.findall(r"\w+", question.casefold()))


_last_words: tuple[str, list[str]] = ("", [])


def kept_words(text: str) -> list[str]:
    """The normalised words of ``text`` that the analysis keeps, in order (do not modify).

    The last result is kept: a page's question is indexed in three fields in a row."""
    global _last_words
    if text is _last_words[0]:
        return _last_words[1]
    words = [w for w in map(normalize_word, _TOKEN.findall(text)) if w]
    _last_words = (text, words)
    return words


#: Positions.encode of a single position, precomputed for the first positions of a text.
_SINGLE_POSITION = [pack_uint(1) + pickle.dumps([p], 2) for p in range(2048)]


class FastText(fields.TEXT):
    """A TEXT field indexed straight from the analysis functions, without Whoosh's per-token
    objects and generators: the same terms, positions and bytes as ``QuickAnalyzer`` gives
    (a test checks it), at a fraction of the cost. Queries still use the analyzer."""

    def _terms(self, words: list[str]) -> list[str]:
        return [stem(w) for w in words]

    def term_data(self, value: str) -> list[tuple[bytes, int, bytes]]:
        """``(term bytes, frequency, encoded posting value)`` of each distinct term of
        ``value``, counting its words for spelling when this field's analyzer would."""
        words = kept_words(value)
        if _word_counts is not None and isinstance(self.analyzer, QuickAnalyzer):
            _word_counts.update(words)
        positions: dict[str, list[int]] = {}
        for i, term in enumerate(self._terms(words)):
            positions.setdefault(term, []).append(i)
        if not isinstance(self.format, formats.Positions):  # Frequency, as word_values does
            return [(t.encode("utf-8"), len(w), pack_uint(len(w))) for t, w in positions.items()]
        single = _SINGLE_POSITION
        out = []
        for term, where in positions.items():
            if len(where) == 1 and where[0] < len(single):  # most terms of a page
                data = single[where[0]]
            else:
                # Positions.encode, inlined: the count, then the pickled position deltas.
                deltas = [where[0], *(b - a for a, b in itertools.pairwise(where))]
                data = pack_uint(len(where)) + pickle.dumps(deltas, 2)
            out.append((term.encode("utf-8"), len(where), data))
        return out

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, str):  # lists bypass the analyzer, as in Whoosh
            yield from super().index(value, **kwargs)
            return
        boost = self.format.field_boost
        for btext, freq, data in self.term_data(value):
            yield btext, freq, freq * boost, data


class FastExactWords(FastText):
    """Question words as written (normalised, not stemmed)."""

    def _terms(self, words: list[str]) -> list[str]:
        return words


class FastWordPairs(FastText):
    """Adjacent pairs of question terms."""

    def _terms(self, words: list[str]) -> list[str]:
        stems = [stem(w) for w in words]
        return [pair_term(a, b) for a, b in itertools.pairwise(stems)]


TEXT_FIELDS = ("question", "keywords", "answer")
#: Question-only fields that add to the score of documents already matched.
EXACT_FIELD, PAIRS_FIELD = "question_exact", "question_pairs"


def make_schema() -> fields.Schema:
    analyzer = QuickAnalyzer()
    return fields.Schema(
        url=fields.ID(stored=True, unique=True),
        question=FastText(analyzer=analyzer, stored=True, phrase=True),
        question_exact=FastExactWords(analyzer=ExactWordsAnalyzer(), phrase=False),
        # Pages asking the same question share this key, so results can show one of them.
        question_key=fields.ID(sortable=True),
        question_pairs=FastWordPairs(analyzer=WordPairsAnalyzer(), phrase=False),
        keywords=FastText(analyzer=analyzer, stored=True, phrase=True),
        answer=FastText(analyzer=analyzer, stored=True, phrase=True),
        subject=fields.ID(stored=True, sortable=True),
        # Filters match this case-folded key, so any spelling of a subject finds it.
        subject_key=fields.ID(),
        date=fields.DATETIME(stored=True, sortable=True),
        id=fields.STORED(),
        source=fields.STORED(),
    )


# Keywords are stored joined by this separator and split back when read.
KEYWORD_SEPARATOR = " , "


def subject_key(subject: str) -> str:
    """The filter key of a (canonical) subject."""
    return subject.casefold()


def document_fields(doc: Document) -> dict[str, Any]:
    """The engine fields of a Document, as the writer takes them."""
    fields: dict[str, Any] = {
        "url": doc.url,
        "question": doc.question,
        "question_exact": doc.question,
        "question_pairs": doc.question,
        "question_key": question_key(doc.question),
        "keywords": KEYWORD_SEPARATOR.join(doc.keywords),
        "answer": doc.answer,
        "subject": doc.subject,
        "subject_key": subject_key(doc.subject),
        "id": doc.id,
        "source": doc.source,
    }
    if doc.date is not None:
        fields["date"] = dt.datetime.combine(doc.date, dt.time())
    return fields
