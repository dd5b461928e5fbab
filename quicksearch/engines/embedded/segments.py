"""The embedded engine's posting source: an open Whoosh index generation, its segments and
their side files (``postings.py``), read for the ranker (``quicksearch.ranking``), and the
vocabulary file written beside each generation."""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.matching import ListMatcher
from whoosh.reading import IndexReader

from quicksearch.analysis import remember_stems, stem
from quicksearch.engines.embedded.postings import SUFFIX as POSTINGS_SUFFIX
from quicksearch.engines.embedded.postings import PostingsFile, term_hash
from quicksearch.fields import RANKED_FIELDS, TEXT_FIELDS, question_stems
from quicksearch.lengths import LENGTH_OF_BYTE
from quicksearch.ranking import Postings

__all__ = ["VOCABULARY_FILE", "IndexPostings", "load_vocabulary", "save_vocabulary"]

VOCABULARY_FILE = "vocabulary.json"
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.float32)


class IndexPostings:
    """The pages and posting lists of one open index generation (a :class:`PostingSource`)."""

    def __init__(self, reader: IndexReader, directory: Path | None = None) -> None:
        self._reader = reader
        self.size = reader.doc_count_all()
        self.live = np.ones(self.size, dtype=bool)
        self.lengths: dict[str, np.ndarray] = {}
        fields = [f for f in RANKED_FIELDS if f in reader.schema]
        for field in fields:
            self.lengths[field] = np.zeros(self.size, dtype=np.float32)
        #: Per segment: (first document number, its reader, its side file or None).
        self._segments: list[tuple[int, IndexReader, PostingsFile | None]] = []
        for leaf, offset in reader.leaf_readers():
            perdoc = getattr(leaf, "_perdoc", None)
            if perdoc is None:  # an index without documents has no segment to read
                continue
            count = leaf.doc_count_all()
            if leaf.has_deletions():
                deleted = [d for d in range(count) if leaf.is_deleted(d)]
                self.live[[offset + d for d in deleted]] = False
            for field in fields:
                column = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
                if column is not None:
                    raw = np.frombuffer(_column_bytes(column, count), dtype=np.uint8)
                    self.lengths[field][offset : offset + count] = LENGTH_OF_BYTE[raw]
            self._segments.append((offset, leaf, _side_file(directory, leaf)))
        self._offsets = [offset for offset, _, _ in self._segments]
        self.subjects: Sequence[Any] = (
            list(reader.column_reader("subject")) if reader.has_column("subject") else []
        )
        self.question_keys: Sequence[Any] = (
            list(reader.column_reader("question_key")) if reader.has_column("question_key") else []
        )
        dead = ~self.live
        self.documents = int(self.live.sum())
        live_count = max(1, self.documents)
        totals = {f: reader.field_length(f) - float(self.lengths[f][dead].sum()) for f in fields}
        self.averages = {f: max(1.0, t / live_count) for f, t in totals.items()}

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Postings | None]:
        """Per ``(field, term)``, its postings (see :meth:`_read_field`)."""
        by_field: dict[str, list[int]] = {}
        for i, (field, _) in enumerate(pairs):
            by_field.setdefault(field, []).append(i)
        out: list[Postings | None] = [None] * len(pairs)
        for field, at in by_field.items():
            for i, read in zip(at, self._read_field(field, [pairs[i][1] for i in at]), strict=True):
                out[i] = read
        return out

    def _read_field(self, field: str, terms: Sequence[str]) -> list[Postings | None]:
        """Per term, its postings over every segment: per segment one binary search for all
        the terms in the side file's term table (Whoosh's own blocks where there is none)."""
        hashes = np.fromiter((term_hash(t) for t in terms), dtype=np.uint64, count=len(terms))
        id_parts: list[list[np.ndarray]] = [[] for _ in terms]
        tf_parts: list[list[np.ndarray]] = [[] for _ in terms]
        most = np.zeros(len(terms))
        shortest = np.full(len(terms), math.inf)
        for offset, leaf, side in self._segments:
            if side is not None and side.has_field(field):
                found, starts, counts, tops, lows = side.find_many(field, hashes)
                for k in np.flatnonzero(found).tolist():
                    ids, tf = side.slice(field, int(starts[k]), int(counts[k]))
                    id_parts[k].append(ids.astype(np.int32) + np.int32(offset))
                    tf_parts[k].append(tf.astype(np.float32))
                    most[k] = max(most[k], float(tops[k]))
                    low = float(lows[k]) if lows is not None else -1.0
                    if low < 0:  # no lengths recorded: read them
                        low = float(self.lengths[field][id_parts[k][-1]].min())
                    shortest[k] = min(shortest[k], low)
                continue
            for k, term in enumerate(terms):  # no side file: Whoosh's own blocks
                ids, tf = _whoosh_postings(leaf, field, term)
                if len(ids):
                    id_parts[k].append(ids + np.int32(offset))
                    tf_parts[k].append(tf)
                    most[k] = max(most[k], float(tf.max()))
                    low = float(self.lengths[field][id_parts[k][-1]].min())
                    shortest[k] = min(shortest[k], low)
        out: list[Postings | None] = []
        for k in range(len(terms)):
            if not id_parts[k]:
                out.append(None)
                continue
            ids = id_parts[k][0] if len(id_parts[k]) == 1 else np.concatenate(id_parts[k])
            tf = tf_parts[k][0] if len(tf_parts[k]) == 1 else np.concatenate(tf_parts[k])
            out.append(Postings(ids, tf, float(most[k]), float(shortest[k])))
        return out

    def clause_count(self, terms: Sequence[str]) -> int | None:
        return None  # counted from the lists themselves

    def question_df(self, term: str) -> int | None:
        return None  # the question list's length

    def question_terms(self, docnum: int) -> str:
        at = bisect.bisect_right(self._offsets, docnum) - 1
        offset, _, side = self._segments[at]
        text = side.question(docnum - offset) if side is not None else None
        if text is None:  # an index without side files: read the stored question
            text = question_stems(self._reader.stored_fields(docnum).get("question") or "")
        return text


def _column_bytes(column: object, count: int) -> bytes:
    """A fixed one-byte column's values for ``count`` documents, read at once when the column
    reader exposes its file (Whoosh's FixedBytesColumn), else value by value."""
    source = getattr(column, "_dbfile", None)
    base = getattr(column, "_basepos", None)
    if source is not None and base is not None and getattr(column, "_fixedlen", None) == 1:
        data = source.get(base, count)
        if len(data) == count:
            return bytes(data)
    return bytes(column[i] for i in range(count))  # type: ignore[index]


def _side_file(directory: Path | None, leaf: IndexReader) -> PostingsFile | None:
    segment = getattr(leaf, "_segment", None)
    if directory is None or segment is None:
        return None
    try:
        return PostingsFile(directory / segment.make_filename(POSTINGS_SUFFIX))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # written before the side files, or damaged: read Whoosh's postings


def _whoosh_postings(leaf: IndexReader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings in one segment, read from Whoosh's own blocks (whole blocks at a time:
    the per-posting matcher API is far slower)."""
    if (field, term) not in leaf:
        return _EMPTY_IDS, _EMPTY_TF
    matcher = leaf.postings(field, term)
    while not hasattr(matcher, "_read_ids") and hasattr(matcher, "child"):
        matcher = matcher.child  # skip the deleted-docs filter: the live mask covers those
    if isinstance(matcher, ListMatcher):  # a rare term's postings, kept in its record
        ids = np.asarray(matcher._ids, dtype=np.int32)
        weights = (
            np.asarray(matcher._weights, dtype=np.float32)
            if matcher._weights
            else np.ones(len(ids), dtype=np.float32)
        )
        return ids, weights
    id_blocks: list[np.ndarray] = []
    weight_blocks: list[np.ndarray] = []
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        block_ids = np.asarray(matcher._ids, dtype=np.int32)
        id_blocks.append(block_ids)
        block_weights = matcher._weights
        weight_blocks.append(
            np.asarray(block_weights, dtype=np.float32)
            if block_weights is not None
            else np.ones(len(block_ids), dtype=np.float32)
        )
        matcher._next_block()
    return np.concatenate(id_blocks), np.concatenate(weight_blocks)


def read_vocabulary(reader: IndexReader) -> dict[str, int]:
    """Every term of the text fields with its largest per-field document frequency."""
    frequencies: dict[str, int] = {}
    for field in TEXT_FIELDS:
        if field not in reader.schema:
            continue
        for raw, info in reader.iter_field(field):
            term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            df = info.doc_frequency()
            if df > frequencies.get(term, 0):
                frequencies[term] = df
    return frequencies


def save_vocabulary(
    reader: IndexReader | None,
    words: dict[str, int],
    generation_dir: Path,
    terms: dict[str, int] | None = None,
    stems: dict[str, str] | None = None,
) -> None:
    """Store the terms (with document frequencies, read from ``reader`` unless given) and the
    words as typed (with counts) beside the index, so searchers load them in milliseconds."""
    from quicksearch.files import write_json_atomic

    if terms is None:
        assert reader is not None
        terms = read_vocabulary(reader)
    # The stems of the words, where they differ: a search process then stems known words
    # without importing NLTK (~0.3 s, or ~0.8 s when SciPy is installed).
    if stems is None:
        stems = {w: s for w in words if (s := stem(w)) != w}
    data = {"terms": terms, "words": words, "stems": stems}
    write_json_atomic(generation_dir / VOCABULARY_FILE, data, indent=None)


def load_vocabulary(
    reader: IndexReader, generation_dir: Path
) -> tuple[dict[str, int], dict[str, int]]:
    """(terms, words) of a generation; an index without the file gets terms only."""
    try:
        data = json.loads((generation_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
        remember_stems(data.get("stems", {}), data["words"])
        return dict(data["terms"]), dict(data["words"])
    except (OSError, ValueError, KeyError, TypeError):
        return read_vocabulary(reader), {}
