"""The Whoosh schema and the adapter that runs quicksearch's analysis chain inside Whoosh."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh import fields
from whoosh.analysis import Token, Tokenizer

from .analysis import analyze


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
        for term, pos, start, end in analyze(value):
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


TEXT_FIELDS = ("question", "keywords", "answer")


def make_schema() -> fields.Schema:
    analyzer = QuickAnalyzer()
    return fields.Schema(
        url=fields.ID(stored=True, unique=True),
        question=fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
        keywords=fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
        answer=fields.TEXT(analyzer=analyzer, stored=True, phrase=True),
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
