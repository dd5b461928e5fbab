"""The embedded engine: one generation of a Whoosh index in a folder, ranked by
:class:`quicksearch.ranking.Ranker`. The Searcher reaches it only through :class:`Engine`'s
methods (see ``quicksearch.engine``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.searching import Searcher as WhooshSearcher

# Imported for its side effect: older indexes name the schema's classes by the module's old
# name, which it keeps as an alias (see the end of schema.py).
import quicksearch.engines.embedded.schema  # noqa: F401
from quicksearch.analysis import plain_words
from quicksearch.config import SCHEMA_VERSION, Settings
from quicksearch.engines.base import Rows, ranked_rows
from quicksearch.engines.embedded.segments import IndexPostings, load_vocabulary
from quicksearch.engines.embedded.storage import (
    Generation,
    current_generation,
    directory_size,
    pointer_signature,
)
from quicksearch.errors import IndexVersionError
from quicksearch.expansion import Vocabulary
from quicksearch.fields import TEXT_FIELDS
from quicksearch.models import IndexStats
from quicksearch.query import Clause
from quicksearch.ranking import Ranker

__all__ = ["EmbeddedEngine", "FolderLocation"]


class FolderLocation:
    """An index folder: which generation is live, and opening it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def signature(self) -> object:
        return pointer_signature(self.path)

    def live_name(self) -> str:
        return current_generation(self.path).name

    def expire(self) -> None:
        pass  # signature() reads the pointer file every time

    def open(self, settings: Settings) -> EmbeddedEngine:
        return EmbeddedEngine(current_generation(self.path), settings, self.path)


class EmbeddedEngine:
    """One open generation: the Whoosh index and searcher, used under the Searcher's lock."""

    def __init__(self, generation: Generation, settings: Settings, root: Path) -> None:
        version = generation.manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IndexVersionError(
                f"the index in {generation.path.parent} has schema version {version}, "
                f"this quicksearch reads version {SCHEMA_VERSION}"
            )
        self.generation = generation
        self.name = generation.name
        self._root = root
        try:
            self.index = whoosh_index.open_dir(str(generation.path))
        except Exception as exc:  # any engine failure here means a damaged generation
            raise IndexVersionError(
                f"cannot open index generation {generation.name}: {exc}"
            ) from None
        self.searcher: WhooshSearcher = self.index.searcher()
        self.ranker = Ranker(IndexPostings(self.searcher.reader(), generation.path), settings)
        self._vocabulary: Vocabulary | None = None
        self._questions: tuple[list[str], np.ndarray] | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(
                *load_vocabulary(self.searcher.reader(), self.generation.path)
            )
        return self._vocabulary

    def warm(self) -> None:
        """Load what the first search would otherwise load."""
        self.vocabulary.prepare()
        self._question_texts()

    def close(self) -> None:
        self.searcher.close()
        self.index.close()

    def run(
        self,
        clauses: list[Clause],
        excluded: list[Clause],
        phrases: Sequence[tuple[str, ...]],
        excluded_phrases: Sequence[tuple[str, ...]],
        subject_keys: list[str],
        start: int,
        count: int,
        collapse: bool,
        settings: Settings,
    ) -> Rows:
        stored = self.searcher.stored_fields
        return ranked_rows(
            self.ranker,
            clauses,
            excluded,
            (phrases, excluded_phrases),
            subject_keys,
            (start, count),
            collapse,
            settings,
            self._phrase_clause,
            lambda docnums: [stored(n) for n in docnums],
        )

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        return self.ranker.question_counts(groups, probes)

    def question_phrase(
        self, words: Sequence[str], subject_keys: list[str], start: int, count: int
    ) -> Rows:
        texts, order = self._question_texts()
        ranker = self.ranker
        needle = f" {' '.join(words)} "
        # The scan is the only per-page Python step; the rest is done on arrays, as a stop
        # word such as "the" is in 20,000 questions (85 ms a search when each was a tuple).
        holds = np.fromiter((needle in text for text in texts), dtype=bool, count=len(texts))
        holds &= ranker.pages.live
        if subject_keys:
            holds &= ranker.subject_mask(subject_keys)
        found = order[holds[order]]  # shortest question first, then by url
        codes = ranker.pages.question_codes[found]
        _, first = np.unique(codes, return_index=True)  # each question once, its first page
        distinct = found[np.sort(first)]
        stored = self.searcher.stored_fields
        rows = [(stored(int(n)), 1.0) for n in distinct[start : start + count]]
        return Rows(rows, len(distinct), {}, True)

    def _question_texts(self) -> tuple[list[str], np.ndarray]:
        # Stop words are in no index field: read the questions once per generation, as
        # " word word " strings, and the pages in the order stop-word queries list them
        # (fewest words first, then by url). It takes about 0.4 s for 36,000 pages, so warm()
        # does it, before a switch, rather than the first stop-word query under the
        # searcher's lock.
        if self._questions is None:
            texts, keys = [], []
            for docnum, fields in enumerate(self.searcher.reader().all_stored_fields()):
                plain = plain_words(str(fields.get("question", "")))
                texts.append(f" {' '.join(plain)} ")
                keys.append((len(plain), str(fields.get("url", "")), docnum))
            order = np.array([k[2] for k in sorted(keys)], dtype=np.int64)
            self._questions = (texts, order)
        return self._questions

    def _phrase_clause(self, words: tuple[str, ...]) -> Clause:
        # Positions are checked by the engine, only for documents that have all the words.
        query = wq.Or([wq.Phrase(f, list(words)) for f in TEXT_FIELDS])
        docs = np.fromiter(self.searcher.docs_for_query(query), dtype=np.int64)
        return Clause(tuple((w, 1.0) for w in words), docs=docs, phrase=True)

    def page(self, url: str) -> dict[str, Any] | None:
        docnum = self.searcher.document_number(url=url)
        return None if docnum is None else dict(self.searcher.stored_fields(docnum))

    def cache_bytes(self) -> dict[str, int]:
        return self.ranker.cache_bytes()

    def stats(self) -> IndexStats:
        subjects = self.ranker.rank([], collapse=False).facets
        manifest: dict[str, Any] = self.generation.manifest
        return IndexStats(
            documents=self.searcher.doc_count(),
            size_bytes=directory_size(self.generation.path),
            built_at=str(manifest.get("built_at", "")),
            schema_version=int(manifest.get("schema_version", 0)),
            generation=self.generation.name,
            index_dir=str(self._root),
            subjects=subjects,
        )
