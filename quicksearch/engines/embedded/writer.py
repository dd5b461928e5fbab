"""Write the index: full builds, incremental updates and rollback, all as atomic generations.

Every write makes a new generation folder and switches ``CURRENT`` to it only once it is
complete, under the writer lock. A full build writes everything afresh; an update hard-links the
live generation's (immutable) segment files into the new folder and applies only the changes, so
it costs seconds and can be rolled back like a full build.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from quicksearch.config import DEFAULT_SETTINGS, SCHEMA_VERSION, Settings
from quicksearch.engines.embedded.parallel import (
    QuickWriter,
    build_segments,
    paused_gc,
    worker_setup,
)
from quicksearch.engines.embedded.schema import counting_words, document_fields, make_schema
from quicksearch.engines.embedded.segments import VOCABULARY_FILE, load_vocabulary, save_vocabulary
from quicksearch.engines.embedded.storage import (
    MANIFEST,
    Generation,
    current_generation,
    generations,
    new_generation_dir,
    prune,
    publish,
    switch_to,
    writer_lock,
)
from quicksearch.errors import (
    IndexNotFoundError,
    NoPreviousGenerationError,
    QuickSearchError,
)
from quicksearch.models import BuildReport, Document, SkippedFile
from quicksearch.pipeline import (
    PARALLEL_MIN_FILES,
    ProgressCallback,
    Ticker,
    checked_documents,
    folder_tasks,
    guard,
    is_folder,
    scan,
    warnings,
    with_progress,
)
from quicksearch.sources import (
    SOURCES_FILE,
    ScanTask,
    SourceRecord,
    SourceTable,
    pages_to_index,
    records_for_documents,
    scan_file,
)
from quicksearch.version import __version__

__all__ = ["build", "rollback", "update"]

_WRITER_MB = 256
# Separate segment files: whoosh copies every part of a compound file into memory on open.


# -- writing -----------------------------------------------------------------------------------


def _manifest(documents: int, mode: str, table: SourceTable) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "quicksearch_version": __version__,
        "engine": "whoosh",
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "documents": documents,
        "source_kind": table.kind,
    }


def _live_documents(root: Path) -> int | None:
    try:
        return int(current_generation(root).manifest.get("documents", 0))
    except QuickSearchError:
        return None


# -- full build --------------------------------------------------------------------------------


def build(
    source: str | os.PathLike[str] | Iterable[Document],
    index_dir: str | os.PathLike[str] = "index_data",
    *,
    jobs: int | None = None,
    progress: bool | ProgressCallback = False,
    settings: Settings = DEFAULT_SETTINGS,
    lock_timeout: float = 5.0,
    max_drop: float = 0.2,
    force: bool = False,
) -> BuildReport:
    """A full build into the index folder ``index_dir`` (see :func:`quicksearch.build_index`)."""
    started = time.perf_counter()
    root = Path(index_dir)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    if is_folder(source):
        folder = Path(source)  # type: ignore[arg-type]
        tasks = folder_tasks(folder, settings)
        items: Iterable[tuple[SourceRecord, Document | None]] = scan(tasks, jobs, worker_setup)
        total: int | None = len(tasks)
        kind, shown_root = "folder", folder
        parallel = jobs > 1 and len(tasks) >= PARALLEL_MIN_FILES
    else:
        items = records_for_documents(checked_documents(source))  # type: ignore[arg-type]
        total = len(source) if hasattr(source, "__len__") else None  # type: ignore[arg-type]
        kind, shown_root = "documents", None
        parallel = False

    with writer_lock(root, timeout=lock_timeout):
        # A generation rolled back from must not become the one a later rollback returns to.
        prune(root)
        live = _live_documents(root)
        tmp_dir = new_generation_dir(root)
        try:
            if parallel:
                write = lambda cb: _write_parallel(tmp_dir, tasks, jobs, Ticker(cb, total))  # noqa: E731
            else:
                write = lambda cb: _write_full(tmp_dir, items, kind, Ticker(cb, total))  # noqa: E731
            indexed, table, extra_skipped = with_progress(progress, "indexing", write)
            guard(live, (live or 0) - indexed, max_drop, force, "replace the index")
            table.save(tmp_dir)
            generation = publish(root, tmp_dir, _manifest(indexed, "full", table))
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        prune(root)

    return BuildReport(
        indexed=indexed,
        skipped=tuple(table.skipped(shown_root) + extra_skipped),
        excluded=sum(r.status == "excluded" for r in table.records.values()),
        seconds=round(time.perf_counter() - started, 3),
        index_dir=str(root),
        generation=generation.name,
        mode="full",
        added=indexed,
        documents=indexed,
        warnings=warnings(indexed, table),
    )


def _write_full(
    path: Path,
    items: Iterable[tuple[SourceRecord, Document | None]],
    kind: str,
    ticker: Ticker,
) -> tuple[int, SourceTable, list[SkippedFile]]:
    ix = whoosh_index.create_in(str(path), make_schema())
    writer = QuickWriter(ix, limitmb=_WRITER_MB, compound=False)
    with counting_words() as words, paused_gc():
        result = _add_all(writer, items, kind, ticker)
    with ix.reader() as reader:
        save_vocabulary(reader, dict(words), path)
    ix.close()
    return result


def _write_parallel(
    path: Path, tasks: list[ScanTask], jobs: int, ticker: Ticker
) -> tuple[int, SourceTable, list[SkippedFile]]:
    indexed, table, words, terms, stems = build_segments(path, tasks, jobs, ticker.advance)
    ticker.finish()
    save_vocabulary(None, words, path, terms=terms, stems=stems)
    return indexed, table, []


def _add_all(
    writer: Any, items: Iterable[tuple[SourceRecord, Document | None]], kind: str, ticker: Ticker
) -> tuple[int, SourceTable, list[SkippedFile]]:
    records: dict[str, SourceRecord] = {}
    extra_skipped: list[SkippedFile] = []
    indexed = 0
    try:
        for _, doc in pages_to_index(items, records, extra_skipped, ticker.tick):
            writer.add_document(**document_fields(doc))
            indexed += 1
    except BaseException:
        writer.cancel()
        raise
    ticker.finish()
    writer.commit()
    return indexed, SourceTable(kind, records), extra_skipped


# -- incremental update ------------------------------------------------------------------------


def update(
    source: str | os.PathLike[str] | Iterable[Document],
    index_dir: str | os.PathLike[str] = "index_data",
    *,
    jobs: int | None = None,
    progress: bool | ProgressCallback = False,
    settings: Settings = DEFAULT_SETTINGS,
    lock_timeout: float = 5.0,
    max_drop: float = 0.2,
    force: bool = False,
) -> BuildReport:
    """An update of the index folder ``index_dir`` (see :func:`quicksearch.update_index`)."""
    started = time.perf_counter()
    root = Path(index_dir)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    folder = is_folder(source)
    try:
        current_generation(root)
    except IndexNotFoundError:
        return build(
            source, root, jobs=jobs, progress=progress, settings=settings, lock_timeout=lock_timeout
        )

    with writer_lock(root, timeout=lock_timeout):
        prune(root)  # as in build_index: forget generations rolled back from
        generation = current_generation(root)
        old = SourceTable.load(generation.path)
        same_schema = generation.manifest.get("schema_version") == SCHEMA_VERSION
        if same_schema and old is not None and old.kind == ("folder" if folder else "documents"):
            plan = with_progress(
                progress,
                "checking",
                lambda cb: _plan_update(source, folder, old, generation.path, jobs, settings, cb),
            )
            return _apply_update(root, generation, old, plan, started, max_drop, force)
    # An index of another schema version, or no usable record of what it holds: rebuild it.
    return build(
        source,
        root,
        jobs=jobs,
        progress=progress,
        settings=settings,
        lock_timeout=lock_timeout,
        max_drop=max_drop,
        force=force,
    )


class _Plan:
    """What an update will do: the new source table, changed keys and their parsed pages."""

    def __init__(self, table: SourceTable, root: Path | None, settings: Settings) -> None:
        self.table, self.root = table, root
        self.max_bytes = settings.max_file_bytes
        self.within = None if settings.follow_symlinks or root is None else os.path.realpath(root)
        self.changed_keys: set[str] = set()
        self.docs: dict[str, Document] = {}
        self.extra_skipped: list[SkippedFile] = []


#: Timestamp granularity to allow for (coarse kernel clocks, FAT's 2 s).
_MTIME_SLACK_NS = 2_000_000_000


def _racy_from(generation_dir: Path) -> int:
    """Files modified this close to when the source table was written may have changed again
    within the same timestamp tick, keeping size and mtime: those are re-read (by digest), as
    git does for its "racily clean" entries."""
    try:
        return os.stat(generation_dir / SOURCES_FILE).st_mtime_ns - _MTIME_SLACK_NS
    except OSError:
        return 0


def _plan_update(
    source: Any,
    folder: bool,
    old: SourceTable,
    old_dir: Path,
    jobs: int,
    settings: Settings,
    progress: ProgressCallback | None,
) -> _Plan:
    records: dict[str, SourceRecord] = {}
    plan = _Plan(
        SourceTable(old.kind, records), Path(source) if folder else None, settings
    )
    if folder:
        to_scan = []
        racy_from = _racy_from(old_dir)
        for task in folder_tasks(Path(source), settings):
            path, key = task[:2]
            prev = old.records.get(key)
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if (
                prev is not None
                and st is not None
                and (prev.size, prev.mtime_ns) == (st.st_size, st.st_mtime_ns)
                and prev.mtime_ns < racy_from
            ):
                records[key] = prev
            else:
                to_scan.append(task)
        ticker = Ticker(progress, len(to_scan))
        scanned: Iterable[tuple[SourceRecord, Document | None]] = scan(to_scan, jobs, worker_setup)
    else:
        ticker = Ticker(progress, None)
        scanned = records_for_documents(checked_documents(source))
    for record, doc in scanned:
        ticker.tick()
        if record.key in records and not folder:
            plan.extra_skipped.append(SkippedFile(record.key[4:], "duplicate url (kept the first)"))
            continue
        prev = old.records.get(record.key)
        if prev is not None and record.digest and prev.digest == record.digest:
            # Touched but not changed: remember the new size/mtime, keep the old verdict.
            records[record.key] = SourceRecord(
                record.key,
                record.size,
                record.mtime_ns,
                prev.digest,
                prev.url,
                prev.status,
                prev.reason,
            )
        else:
            records[record.key] = record
            plan.changed_keys.add(record.key)
        if doc is not None and (record.key in plan.changed_keys or not folder):
            plan.docs[record.key] = doc
    ticker.finish()
    return plan


def _apply_update(
    root: Path,
    generation: Generation,
    old: SourceTable,
    plan: _Plan,
    started: float,
    max_drop: float,
    force: bool,
) -> BuildReport:
    old_owners, new_owners = old.owners(), plan.table.owners()
    deletes = [url for url in old_owners if url not in new_owners]
    writes: list[Document] = []
    added = updated = 0
    for url, key in new_owners.items():
        before = old_owners.get(url)
        if before is not None and before == key and key not in plan.changed_keys:
            continue
        if before is None:
            added += 1
        else:
            updated += 1
        doc = plan.docs.get(key)
        if doc is None:  # an unchanged page that now owns a url (its duplicate was removed)
            _, doc = scan_file(plan.root / key, key, plan.max_bytes, plan.within)  # type: ignore[operator]
        if doc is not None:
            writes.append(doc)
    live = int(generation.manifest.get("documents", 0))
    guard(live, len(deletes), max_drop, force, "update the index")

    documents, name = live, generation.name
    if deletes or writes:
        tmp_dir = new_generation_dir(root)
        try:
            _link_generation(generation.path, tmp_dir)
            ix = whoosh_index.open_dir(str(tmp_dir))
            writer = QuickWriter(ix, limitmb=_WRITER_MB, compound=False)
            # Words of new pages are added to the old counts (removed pages are not subtracted:
            # the counts only rank spelling suggestions and completions).
            with ix.reader() as reader:
                _, words = load_vocabulary(reader, generation.path)
            try:
                with counting_words() as new_words:
                    for url in deletes:
                        writer.delete_by_term("url", url)
                    for doc in writes:
                        writer.update_document(**document_fields(doc))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
            for word, count in new_words.items():
                words[word] = words.get(word, 0) + count
            documents = ix.doc_count()
            with ix.reader() as reader:
                save_vocabulary(reader, words, tmp_dir)
            ix.close()
            plan.table.save(tmp_dir)
            name = publish(root, tmp_dir, _manifest(documents, "update", plan.table)).name
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        prune(root)
    elif plan.table.records != old.records:
        plan.table.save(generation.path)  # only size/mtime moved: remember them, index untouched

    return BuildReport(
        indexed=added + updated,
        skipped=tuple(plan.table.skipped(plan.root) + plan.extra_skipped),
        excluded=sum(r.status == "excluded" for r in plan.table.records.values()),
        seconds=round(time.perf_counter() - started, 3),
        index_dir=str(root),
        generation=name,
        mode="update",
        added=added,
        updated=updated,
        deleted=len(deletes),
        unchanged=len(new_owners) - added - updated,
        documents=documents,
        warnings=warnings(documents, plan.table),
    )


def _link_generation(src: Path, dst: Path) -> None:
    """Fill ``dst`` with hard links to ``src``'s engine files (they are never modified)."""
    for entry in src.iterdir():
        if (
            not entry.is_file()
            or entry.name in (MANIFEST, SOURCES_FILE, VOCABULARY_FILE)
            or entry.name.endswith("LOCK")
        ):
            continue
        try:
            os.link(entry, dst / entry.name)
        except OSError:
            shutil.copy2(entry, dst / entry.name)


# -- rollback ----------------------------------------------------------------------------------


def rollback(index_dir: str | os.PathLike[str] = "index_data", *, lock_timeout: float = 5.0) -> str:
    """Make the generation before the live one live again; return its name.

    Searchers switch on their next search. The generation rolled back from is removed by the
    next build or update.
    """
    root = Path(index_dir)
    with writer_lock(root, timeout=lock_timeout):
        live = current_generation(root)
        names = [p.name for p in generations(root)]
        at = names.index(live.name) if live.name in names else 0
        if at == 0:
            raise NoPreviousGenerationError(
                f"no earlier index generation in {root} to roll back to"
            )
        previous = names[at - 1]
        if not (root / previous / MANIFEST).exists():
            raise NoPreviousGenerationError(f"the previous generation {previous} is incomplete")
        switch_to(root, previous)
        return previous
