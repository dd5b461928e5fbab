"""The Whoosh schema and the adapter that runs quicksearch's analysis chain inside Whoosh."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import pickle
import re
import sys
from array import array
from collections import Counter
from collections.abc import Iterator
from typing import Any

from whoosh import columns, fields, formats
from whoosh.analysis import Token, Tokenizer
from whoosh.system import pack_uint

from quicksearch.analysis import TOKEN_PATTERN, analyze, normalize_word, stem
from quicksearch.fields import (
    KEYWORD_SEPARATOR,
    kept_words,
    question_key,
)
from quicksearch.models import Document

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


#: One term's postings while a segment is written: document numbers, weights, encoded values.
PostingLists = tuple["array[int]", "array[float]", list[bytes]]
#: A field's postings by term (``str`` for text fields, Whoosh's bytes for the others).
Postings = dict[Any, PostingLists]

#: Positions.encode of a single position, precomputed for the first positions of a text.
_SINGLE_POSITION = [pack_uint(1) + pickle.dumps([p], 2) for p in range(2048)]


def _encode_positions(where: list[int]) -> bytes:
    """Positions.encode, inlined: the count, then the pickled position deltas."""
    if len(where) == 1 and where[0] < len(_SINGLE_POSITION):  # most terms of a page
        return _SINGLE_POSITION[where[0]]
    deltas = [where[0], *(b - a for a, b in itertools.pairwise(where))]
    return pack_uint(len(where)) + pickle.dumps(deltas, 2)


class FastText(fields.TEXT):
    """A TEXT field indexed straight from the analysis functions, without Whoosh's per-token
    objects and generators: the same terms, positions and bytes as ``QuickAnalyzer`` gives
    (a test checks it), at a fraction of the cost. Queries still use the analyzer."""

    def _terms(self, words: list[str]) -> list[str]:
        return list(map(stem, words))

    def _positions(self, value: str) -> dict[str, list[int]]:
        words = kept_words(value)
        if _word_counts is not None and isinstance(self.analyzer, QuickAnalyzer):
            _word_counts.update(words)
        positions: dict[str, list[int]] = {}
        for i, term in enumerate(self._terms(words)):
            positions.setdefault(term, []).append(i)
        return positions

    def term_data(self, value: str) -> list[tuple[bytes, int, bytes]]:
        """``(term bytes, frequency, encoded posting value)`` of each distinct term of
        ``value``, counting its words for spelling when this field's analyzer would."""
        positions = self._positions(value)
        if not isinstance(self.format, formats.Positions):  # Frequency, as word_values does
            return [(t.encode("utf-8"), len(w), pack_uint(len(w))) for t, w in positions.items()]
        return [(t.encode("utf-8"), len(w), _encode_positions(w)) for t, w in positions.items()]

    def add_postings(self, value: str, postings: Postings, docnum: int) -> int:
        """Add document ``docnum``'s postings of ``value`` to ``postings`` (keyed by term
        ``str``): what :meth:`term_data` gives, without building its list. Returns the
        field length."""
        positions = self._positions(value)
        boost = self.format.field_boost
        with_positions = isinstance(self.format, formats.Positions)
        single = _SINGLE_POSITION
        length = 0
        for term, where in positions.items():
            freq = len(where)
            length += freq
            entry = postings.get(term)
            if entry is None:
                entry = postings[term] = (array("I"), array("f"), [])
            entry[0].append(docnum)
            entry[1].append(freq * boost)
            if not with_positions:
                entry[2].append(pack_uint(freq))
            elif freq == 1 and where[0] < len(single):  # most terms of a page: no call, no pickle
                entry[2].append(single[where[0]])
            else:
                entry[2].append(_encode_positions(where))
        return length if self.scorable else 0

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


class KeyColumn(fields.COLUMN):
    """A text value kept per document in a column (and stored if asked), never indexed: the
    ranker reads subjects and duplicate keys whole, and indexing them cost a build 5%."""

    def __init__(self, *, stored: bool = False) -> None:
        super().__init__(columns.VarBytesColumn())
        self.stored = stored

    def to_column_value(self, value: Any) -> bytes:
        return str(value).encode("utf-8")

    def from_column_value(self, value: bytes) -> str:
        return value.decode("utf-8")


def make_schema() -> fields.Schema:
    analyzer = QuickAnalyzer()
    return fields.Schema(
        url=fields.ID(stored=True, unique=True),
        question=FastText(analyzer=analyzer, stored=True, phrase=True),
        question_exact=FastExactWords(analyzer=ExactWordsAnalyzer(), phrase=False),
        # Pages asking the same question share this key, so results can show one of them.
        question_key=KeyColumn(),
        keywords=FastText(analyzer=analyzer, stored=True, phrase=True),
        answer=FastText(analyzer=analyzer, stored=True, phrase=True),
        # Subject filters and facets read this column (see Ranker.subject_mask).
        subject=KeyColumn(stored=True),
        date=fields.STORED(),
        id=fields.STORED(),
        source=fields.STORED(),
    )


def document_fields(doc: Document) -> dict[str, Any]:
    """The engine fields of a Document, as the writer takes them."""
    fields: dict[str, Any] = {
        "url": doc.url,
        "question": doc.question,
        "question_exact": doc.question,
        "question_key": question_key(doc.question),
        "keywords": KEYWORD_SEPARATOR.join(doc.keywords),
        "answer": doc.answer,
        "subject": doc.subject,
        "id": doc.id,
        "source": doc.source,
    }
    if doc.date is not None:
        fields["date"] = dt.datetime.combine(doc.date, dt.time())
    return fields


# Each index generation stores its schema pickled, naming these classes by module; indexes
# built before the embedded engine had its own package name them "quicksearch.schema". That
# name stays an alias of this module, so those indexes open without a rebuild.
sys.modules.setdefault("quicksearch.schema", sys.modules[__name__])
