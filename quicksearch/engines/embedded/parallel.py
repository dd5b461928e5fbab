"""Full builds across processes: each worker parses, cleans, analyses and writes its own
index segment; the parent only hands out pages and joins the segments.

Whoosh's writer is pure Python, so one writer process, however fast its feeders, bounds a build
(its posting pool and commit were most of a build's profile). Here every core runs the whole
pipeline for a share of the pages, dealt out in small chunks so the cores finish together. The
parent then lists the workers' segments in one table of contents and deletes the few pages that
lost their url to an earlier page (url ownership is decided over the whole folder, as in a
one-process build). The workers are forked (so any caller works, scripts without a ``__main__``
guard included), drop the inherited writer lock, and exit if the parent dies, as the parse
workers of an update do.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import queue
import random
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3TermInfo, _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from quicksearch.analysis import lean_nltk_import, load_stemmer, stem
from quicksearch.engines.embedded.postings import SUFFIX as POSTINGS_SUFFIX
from quicksearch.engines.embedded.postings import write_postings
from quicksearch.engines.embedded.schema import (
    FastText,
    PostingLists,
    Postings,
    counting_words,
    document_fields,
    make_schema,
)
from quicksearch.engines.embedded.storage import release_inherited_locks
from quicksearch.errors import QuickSearchError
from quicksearch.fields import RANKED_FIELDS, TEXT_FIELDS, kept_words, question_stems
from quicksearch.pipeline import watch_parent
from quicksearch.sources import OK, ScanTask, SourceRecord, SourceTable, scan_task

__all__ = ["QuickWriter", "build_segments", "paused_gc", "worker_setup"]

#: Pages per chunk: small enough to balance the cores, large enough to cost little.
CHUNK = 64
#: A worker starts a new segment after this many pages, so its memory stays bounded however
#: large the corpus (a segment's postings are pooled in memory until it is written; about
#: 500 MB for 40,000 pages of the real corpus).
SEGMENT_DOCS = 40_000
_WRITER_MB = 192
#: Postings per block (Whoosh: 128) and zlib level of the blocks (Whoosh: 3). Level 1 keeps
#: the index as small as level 3 did on the real corpus; level 0 made it 60% larger.
BLOCK_POSTINGS = 1024
BLOCK_ZLIB = 1
#: Terms with at most this many postings keep them in their term record: most terms are rare
#: (word pairs above all), and a block of their own costs a pickle, zlib and a seek each.
INLINE_POSTINGS = 8
_TERM_INFO = W3TermInfo._struct


def worker_setup(parent_pid: int) -> None:
    """In a forked worker: let go of the writer lock; exit soon after the builder dies."""
    release_inherited_locks()
    watch_parent(parent_pid)


class _Lengths:
    """Field lengths of a segment being written, read once per field: Whoosh's posting writer
    asks for one per posting, and each of those reads went through its column reader."""

    def __init__(self, per_doc: Any) -> None:
        self._per_doc = per_doc
        self._tables: dict[str, list[int | None]] = {}

    def table(self, fieldname: str) -> list[int | None] | None:
        """Length of the field in each document (None where Whoosh reads None)."""
        table = self._tables.get(fieldname)
        if table is None:
            column = self._per_doc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if column is None:
                return None
            count = self._per_doc.doc_count_all()
            # As Whoosh's reader: a zero byte reads as None.
            table = [byte_to_length(b) if b else None for b in (column[i] for i in range(count))]
            self._tables[fieldname] = table
        return table

    def close(self) -> None:
        self._per_doc.close()


class _TermPool:
    """Postings grouped by field and term as they arrive. Whoosh's pool keeps one tuple per
    posting, sorts them all at commit and spills sorted runs to disk when it fills; grouping
    costs about as much per posting as its bookkeeping did, and leaves only the terms to sort.
    Text terms are kept as ``str`` (their hash is cached; each is encoded once, at commit),
    other fields' terms as the bytes Whoosh gives."""

    def __init__(self, str_fields: Iterable[str] = ()) -> None:
        self.fields: dict[str, Postings] = {}
        #: Fields whose terms add_document keys by ``str``.
        self._str_fields = frozenset(str_fields)

    def field(self, fieldname: str) -> Postings:
        postings = self.fields.get(fieldname)
        if postings is None:
            postings = self.fields[fieldname] = {}
        return postings

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        """One posting from Whoosh (a merged segment's): keyed as add_document keys it, or a
        merge that also adds pages would hold the same term twice, as bytes and as str."""
        fieldname, btext, docnum, weight, value = item
        term: str | bytes = btext.decode("utf-8") if fieldname in self._str_fields else btext
        _add_posting(self.field(fieldname), term, docnum, weight, value)

    def sorted_terms(self) -> Iterator[tuple[str, bytes, PostingLists]]:
        """``(field, term bytes, postings)`` in the order a segment stores them."""
        for fieldname in sorted(self.fields):
            postings = self.fields[fieldname]
            # UTF-8 keeps code point order, so str keys sort as their encodings do.
            for term in sorted(postings):
                btext = term.encode("utf-8") if isinstance(term, str) else term
                yield fieldname, btext, postings[term]

    def document_frequencies(self, fieldnames: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per field, each term's number of documents."""
        out: dict[str, dict[str, int]] = {}
        for fieldname in fieldnames:
            postings = self.fields.get(fieldname, {})
            out[fieldname] = {
                t if isinstance(t, str) else t.decode("utf-8"): len(e[0])
                for t, e in postings.items()
            }
        return out

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes]]:
        for fieldname, btext, (docs, weights, values) in self.sorted_terms():
            for i, docnum in enumerate(docs):
                yield fieldname, btext, docnum, weights[i], values[i]

    def cleanup(self) -> None:
        self.fields.clear()


def _add_posting(
    postings: Postings, term: Any, docnum: int, weight: float, value: bytes | None
) -> None:
    """Append one posting to its term's lists (FastText.add_postings inlines this loop)."""
    entry = postings.get(term)
    if entry is None:
        entry = postings[term] = (array("I"), array("f"), [])
    entry[0].append(docnum)
    entry[1].append(weight)
    entry[2].append(value or b"")


def _write_term(
    postings: Any, docs: array[int], weights: array[float], values: list[bytes], lengths: Any
) -> None:
    """Fill a Whoosh postings writer's blocks a block at a time, with the statistics that
    its per-posting ``add_posting`` would have kept (the bytes written are the same)."""
    limit = postings._blocklimit
    for start in range(0, len(docs), limit):
        if postings._ids:
            postings._write_block()
        block_docs = docs[start : start + limit]
        block_weights = weights[start : start + limit]
        postings._ids.extend(block_docs)
        postings._weights.extend(block_weights)
        postings._values.extend(v for v in values[start : start + limit] if v)
        postings._maxweight = max(0, max(block_weights))
        if lengths is not None:
            known = [n for n in map(lengths.__getitem__, block_docs) if n]
            if known:
                postings._minlength = min(known)
                postings._maxlength = max(known)


def _inlined_record(
    docs: array[int], weights: array[float], values: list[bytes], lengths: Any
) -> bytes:
    """The term record of a term whose few postings it holds itself: the bytes Whoosh's
    ``W3TermInfo`` gives after one block of these postings (its reader supports inlined
    postings; its writer's own path to them is broken, calling ``set_inline`` on a term info
    whose method is ``set_inlined``), built without a postings writer per term."""
    known = [n for n in map(lengths.__getitem__, docs) if n] if lengths is not None else []
    stats = _TERM_INFO.pack(
        True,
        sum(weights),
        len(docs),
        length_to_byte(min(known)) if known else 0,
        length_to_byte(max(known)) if known else 0,
        max(0, max(weights)),
        docs[0],
        docs[-1],
    )
    return stats + pickle.dumps((tuple(docs), tuple(weights), tuple(v for v in values if v)), 2)


class QuickWriter(SegmentWriter):
    """Whoosh's segment writer, made cheaper where a build spends its time: postings are
    grouped by field and term in memory and written a block at a time, with field lengths read
    once per field; rare terms' postings go straight into their term records; posting blocks
    are larger (the ranker reads whole lists, so small blocks only cost time); stored fields
    are not deflated."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", W3Codec(blocklimit=BLOCK_POSTINGS, compression=BLOCK_ZLIB))
        super().__init__(ix, **kwargs)
        self.pool.cleanup()
        self.pool = _TermPool(
            name for name, field in self.schema.items() if isinstance(field, FastText)
        )
        # Stored fields without compression: Whoosh deflates each page's at level 3, which cost
        # a full build 3% of its time to save 60 MB on the real corpus. The reader inflates
        # these level-0 streams like any other.
        self.perdocwriter._colwriters["_stored"]._child._level = 0
        # add_document below leaves out what this schema never uses.
        assert not any(f.vector or f.separate_spelling() for _, f in self.schema.items())
        #: Each document's question as the ranker's proximity bonus reads it (its stems in
        #: order), stored in the side file so that bonus needs no stored-field reads.
        self._questions: list[str] = []

    def add_document(self, **fields: Any) -> None:
        """Whoosh's add_document without boosts, vectors or spelling fields, with each posting
        put straight into its term's lists (same postings, lengths and stored values)."""
        self._check_state()
        per_doc = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        pool = self.pool
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        per_doc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                if isinstance(field, FastText) and isinstance(value, str):
                    # The common case, without index()'s generator: the same postings.
                    length = field.add_postings(value, pool.field(name), docnum)
                elif field.indexed:
                    length = self._add_postings(field, value, pool.field(name), docnum)
                else:
                    length = 0
                per_doc.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    per_doc.add_column_value(name, column, field.to_column_value(value))
        except Exception:
            per_doc.cancel_doc()
            raise
        per_doc.finish_doc()
        self._questions.append(question_stems(fields.get("question") or ""))
        self._added = True
        self.docnum += 1

    def add_reader(self, reader: Any) -> None:
        """Merge a segment (Whoosh copies its live documents in this order)."""
        for _, stored in reader.iter_docs():
            self._questions.append(question_stems(stored.get("question") or ""))
        super().add_reader(reader)

    @staticmethod
    def _add_postings(field: Any, value: Any, postings: Postings, docnum: int) -> int:
        length = 0
        for btext, freq, weight, data in field.index(value):
            if field.scorable:
                length += freq
            _add_posting(postings, btext, docnum, weight, data)
        return length

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = _Lengths(self.per_document_reader()) if self.codec.length_stats else None
        writer = self.fieldwriter
        current = None
        table = None
        for fieldname, btext, (docs, weights, values) in self.pool.sorted_terms():
            if fieldname != current:
                if current is not None:
                    writer.finish_field()
                writer.start_field(fieldname, self.schema[fieldname])
                current = fieldname
                table = lengths.table(fieldname) if lengths is not None else None
            if len(docs) <= INLINE_POSTINGS:
                key = pack_ushort(writer._fieldid) + btext
                writer._tindex.add(key, _inlined_record(docs, weights, values, table))
            else:
                writer.start_term(btext)
                _write_term(writer._postwriter, docs, weights, values, table)
                writer.finish_term()
        if current is not None:
            writer.finish_field()
        writer.close()
        # The ranker's copy of the ranked fields' postings (see postings.py).
        field_lengths = {}
        if lengths is not None:
            for name in RANKED_FIELDS:
                table = lengths.table(name)
                if table is not None:
                    field_lengths[name] = np.array([n or 0 for n in table], dtype=np.float32)
            lengths.close()
        write_postings(
            os.path.join(self.storage.folder, self.newsegment.make_filename(POSTINGS_SUFFIX)),
            {name: self.pool.fields.get(name, {}) for name in RANKED_FIELDS},
            questions=self._questions if len(self._questions) == self.docnum else None,
            lengths=field_lengths,
        )


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a writer fills its posting lists: millions of
    small objects, none in a cycle, which the collector's full passes would go over again and
    again (a sixth of a full build's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _WorkerStorage(FileStorage):
    """The generation folder, with a temporary folder of this process's own (Whoosh names it
    after the index, so two writers in one folder would share and delete it)."""

    def temp_storage(self, name: str | None = None) -> FileStorage:
        return super().temp_storage(f"{name or 'tmp'}.{os.getpid()}")


def _segment_worker(
    path: str, chunks: list[list[ScanTask]], results: Any, parent_pid: int, worker: int
) -> None:
    try:
        worker_setup(parent_pid)
        random.seed()  # forked workers share the parent's state; Whoosh names segments with it
        gc.disable()  # see paused_gc; this process ends with the build
        lean_nltk_import()
        load_stemmer()
        ix = _WorkerStorage(path).open_index()
        records: list[SourceRecord] = []
        segments: list[Any] = []
        # (page key, segment of this worker, document number in that segment)
        added: list[tuple[str, int, int]] = []
        frequencies: dict[str, Counter[str]] = {name: Counter() for name in TEXT_FIELDS}
        writer = None
        with counting_words() as words:
            for chunk in chunks:
                for task in chunk:
                    record, doc = scan_task(task)
                    records.append(record)
                    if record.status == OK and doc is not None:
                        if writer is None:
                            writer = QuickWriter(ix, _lk=False, limitmb=_WRITER_MB, compound=False)
                        added.append((record.key, len(segments), writer.docnum))
                        writer.add_document(**document_fields(doc))
                        if writer.docnum >= SEGMENT_DOCS:
                            segments.append(_close_segment(writer, frequencies))
                            writer = None
                results.put(("progress", worker, len(chunk)))
            if writer is not None:
                segments.append(_close_segment(writer, frequencies))
            counts = dict(words)
        stems = {w: s for w in counts if (s := stem(w)) != w}  # this process's cache is warm
        results.put(("done", worker, (segments, records, added, counts, frequencies, stems)))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", worker, f"{type(exc).__name__}: {exc}"))


def _close_segment(writer: QuickWriter, frequencies: dict[str, Counter[str]]) -> Any:
    """Write a worker's segment out and add its terms' document frequencies to the tally."""
    for fieldname, dfs in writer.pool.document_frequencies(TEXT_FIELDS).items():
        frequencies[fieldname].update(dfs)
    segment = writer._finalize_segment()
    writer._finish()
    return segment


def build_segments(
    path: Path,
    tasks: list[ScanTask],
    jobs: int,
    tick: Callable[[int], None],
) -> tuple[int, SourceTable, dict[str, int], dict[str, int], dict[str, str]]:
    """Index the pages of ``tasks`` into a new index at ``path`` with ``jobs`` processes.

    Returns the number of documents, the source table, the word counts, the document
    frequency of each term and the words' stems (for the vocabulary file).
    """
    import multiprocessing

    ix = whoosh_index.create_in(str(path), make_schema())
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    chunks = [tasks[start : start + CHUNK] for start in range(0, len(tasks), CHUNK)]
    workers = [
        context.Process(
            target=_segment_worker,
            # Chunks dealt round-robin rather than from a shared queue: the same folder then
            # gives the same document order, so equal scores rank the same after every build.
            args=(str(path), chunks[n::jobs], results, os.getpid(), n),
            daemon=True,
        )
        for n in range(jobs)
    ]
    for process in workers:
        process.start()
    outputs: dict[int, tuple[Any, ...]] = {}
    try:
        while len(outputs) < jobs:
            try:
                kind, worker, payload = results.get(timeout=1.0)
            except queue.Empty:
                for n, process in enumerate(workers):
                    if n not in outputs and not process.is_alive():
                        raise QuickSearchError(
                            f"an index worker died (exit code {process.exitcode})",
                            hint="the live index is unchanged; see the system log, then rerun",
                        ) from None
                continue
            if kind == "progress":
                tick(payload)
            elif kind == "done":
                outputs[worker] = payload
            else:
                raise QuickSearchError(
                    f"an index worker failed: {payload}",
                    hint="the live index is unchanged; rerun with --jobs 1 to see the page",
                )
    finally:
        for process in workers:
            if process.is_alive() and len(outputs) < jobs:
                process.kill()
            process.join(timeout=30)

    records: dict[str, SourceRecord] = {}
    words: Counter[str] = Counter()
    segments = []
    losers: list[int] = []
    field_frequencies: dict[str, Counter[str]] = {}
    stems: dict[str, str] = {}
    for n in range(jobs):
        _, worker_records, _, counts, frequencies, worker_stems = outputs[n]
        records.update((r.key, r) for r in worker_records)
        words.update(counts)
        stems.update(worker_stems)
        for fieldname, dfs in frequencies.items():
            field_frequencies.setdefault(fieldname, Counter()).update(dfs)
    table = SourceTable("folder", dict(sorted(records.items())))
    owners = table.owners()
    base = 0
    for n in range(jobs):
        worker_segments, _, added, _, _, _ = outputs[n]
        bases = []
        for segment in worker_segments:
            segments.append(segment)
            bases.append(base)
            base += segment.doc_count_all()
        losers += [
            bases[at] + doc for key, at, doc in added if owners.get(records[key].url or "") != key
        ]

    TOC(ix.schema, segments, 1).write(ix.storage, ix.indexname)
    if losers:  # pages whose url an earlier page (in key order) already holds
        ix = whoosh_index.open_dir(str(path))
        with ix.reader() as reader:
            for docnum in losers:
                _uncount(reader.stored_fields(docnum), words, field_frequencies)
        writer = ix.writer()
        for docnum in losers:
            writer.delete_document(docnum)
        writer.commit(merge=False)
    ix.close()
    # As read_vocabulary reads them: each term's largest document frequency over the fields.
    terms: dict[str, int] = {}
    for dfs in field_frequencies.values():
        for term, df in dfs.items():
            if df > terms.get(term, 0):
                terms[term] = df
    kept = {w: n for w, n in words.items() if n > 0}
    return len(owners), table, kept, terms, {w: s for w, s in stems.items() if w in kept}


def _uncount(
    stored: dict[str, Any], words: Counter[str], field_frequencies: dict[str, Counter[str]]
) -> None:
    """Take a deleted page's words and terms back out of the counts (a one-process build never
    counts them), so both builds store the same vocabulary."""
    for fieldname in TEXT_FIELDS:
        kept = kept_words(stored.get(fieldname) or "")
        words.subtract(kept)
        dfs = field_frequencies.get(fieldname)
        if dfs is None:
            continue
        for term in {stem(w) for w in kept}:
            dfs[term] -= 1
            if dfs[term] <= 0:
                del dfs[term]
