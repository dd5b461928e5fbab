"""Full builds across processes: each worker parses, cleans, analyses and writes its own
index segment; the parent only hands out pages and joins the segments.

Whoosh's writer is pure Python, so one writer process, however fast its feeders, bounds a build
(its posting pool and commit were most of a build's profile). Here every core runs the whole
pipeline for a share of the pages, taken a chunk at a time from a shared queue so the cores
finish together. The parent then lists the workers' segments in one table of contents and
deletes the few pages that lost their url to an earlier page (url ownership is decided over the
whole folder, as in a one-process build). The workers are forked (so any caller works, scripts
without a ``__main__`` guard included), drop the inherited writer lock, and exit if the parent
dies, as the parse workers of an update do.
"""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from .errors import QuickSearchError
from .schema import counting_words, document_fields, make_schema
from .sources import OK, SourceRecord, SourceTable, scan_task
from .storage import release_inherited_locks

__all__ = ["QuickWriter", "build_segments", "worker_setup"]

#: Pages per queue item: small enough to balance the cores, large enough to cost little.
CHUNK = 64
_WRITER_MB = 192


def worker_setup(parent_pid: int) -> None:
    """In a forked worker: let go of the writer lock; exit soon after the builder dies."""
    release_inherited_locks()

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _Lengths:
    """Field lengths of a segment being written, read once per field: Whoosh's posting writer
    asks for one per posting, and each of those reads went through its column reader."""

    def __init__(self, per_doc: Any) -> None:
        self._per_doc = per_doc
        self._tables: dict[str, list[int | None]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int | None:
        table = self._tables.get(fieldname)
        if table is None:
            column = self._per_doc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if column is None:
                return default
            count = self._per_doc.doc_count_all()
            # As Whoosh's reader: a zero byte reads as None.
            table = [byte_to_length(b) if b else None for b in (column[i] for i in range(count))]
            self._tables[fieldname] = table
        return table[docnum]

    def close(self) -> None:
        self._per_doc.close()


class QuickWriter(SegmentWriter):
    """Whoosh's segment writer with field lengths looked up in memory at commit."""

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        lengths = _Lengths(self.per_document_reader()) if self.codec.length_stats else None
        self.fieldwriter.add_postings(self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if lengths is not None:
            lengths.close()


class _WorkerStorage(FileStorage):
    """The generation folder, with a temporary folder of this process's own (Whoosh names it
    after the index, so two writers in one folder would share and delete it)."""

    def temp_storage(self, name: str | None = None) -> FileStorage:
        return super().temp_storage(f"{name or 'tmp'}.{os.getpid()}")


def _segment_worker(path: str, tasks: Any, results: Any, parent_pid: int, worker: int) -> None:
    try:
        worker_setup(parent_pid)
        random.seed()  # forked workers share the parent's state; Whoosh names segments with it
        ix = _WorkerStorage(path).open_index()
        writer = QuickWriter(ix, _lk=False, limitmb=_WRITER_MB, compound=False)
        records: list[SourceRecord] = []
        added: list[tuple[str, int]] = []  # (page key, document number in this segment)
        with counting_words() as words:
            while (chunk := tasks.get()) is not None:
                for task in chunk:
                    record, doc = scan_task(task)
                    records.append(record)
                    if record.status == OK and doc is not None:
                        added.append((record.key, writer.docnum))
                        writer.add_document(**document_fields(doc))
                results.put(("progress", worker, len(chunk)))
            if added:
                segment = writer._finalize_segment()
            else:
                segment = None
                writer._close_segment()
            writer._finish()
            counts = dict(words)
        results.put(("done", worker, (segment, records, added, counts)))
    except BaseException as exc:  # report, never hang the parent
        results.put(("error", worker, f"{type(exc).__name__}: {exc}"))


def build_segments(
    path: Path,
    tasks: list[tuple[str, str, int]],
    jobs: int,
    tick: Callable[[int], None],
) -> tuple[int, SourceTable, dict[str, int]]:
    """Index the pages of ``tasks`` into a new index at ``path`` with ``jobs`` processes.

    Returns the number of documents, the source table and the word counts (for spelling).
    """
    import multiprocessing

    ix = whoosh_index.create_in(str(path), make_schema())
    context = multiprocessing.get_context("fork")
    task_queue = context.Queue()
    results = context.Queue()
    for start in range(0, len(tasks), CHUNK):
        task_queue.put(tasks[start : start + CHUNK])
    for _ in range(jobs):
        task_queue.put(None)
    workers = [
        context.Process(
            target=_segment_worker,
            args=(str(path), task_queue, results, os.getpid(), n),
            daemon=True,
        )
        for n in range(jobs)
    ]
    for process in workers:
        process.start()
    outputs: dict[int, tuple[Any, list[SourceRecord], list[tuple[str, int]], dict[str, int]]] = {}
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
    for n in range(jobs):
        segment, worker_records, _, counts = outputs[n]
        records.update((r.key, r) for r in worker_records)
        words.update(counts)
    table = SourceTable("folder", dict(sorted(records.items())))
    owners = table.owners()
    base = 0
    for n in range(jobs):
        segment, _, added, _ = outputs[n]
        if segment is None:
            continue
        segments.append(segment)
        losers += [base + doc for key, doc in added if owners.get(records[key].url or "") != key]
        base += segment.doc_count_all()

    TOC(ix.schema, segments, 1).write(ix.storage, ix.indexname)
    if losers:  # pages whose url an earlier page (in key order) already holds
        ix = whoosh_index.open_dir(str(path))
        writer = ix.writer()
        for docnum in losers:
            writer.delete_document(docnum)
        writer.commit(merge=False)
    ix.close()
    return len(owners), table, dict(words)
