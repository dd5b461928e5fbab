"""Write the index: full builds, incremental updates and rollback, all as atomic generations.

Every write makes a new generation folder and switches ``CURRENT`` to it only once it is
complete, under the writer lock. A full build writes everything afresh; an update hard-links the
live generation's (immutable) segment files into the new folder and applies only the changes, so
it costs seconds and can be rolled back like a full build.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from . import __version__
from .config import DEFAULT_SETTINGS, SCHEMA_VERSION, Settings
from .documents import page_files
from .errors import (
    IndexNotFoundError,
    InvalidSourceError,
    NoPreviousGenerationError,
    QuickSearchError,
    RebuildRefusedError,
)
from .location import is_cluster, parse_location
from .models import BuildReport, Document, SkippedFile
from .parallel import QuickWriter, build_segments, paused_gc, worker_setup
from .schema import counting_words, document_fields, make_schema
from .segments import VOCABULARY_FILE, load_vocabulary, save_vocabulary
from .sources import (
    OK,
    SOURCES_FILE,
    ScanTask,
    SourceRecord,
    SourceTable,
    pages_to_index,
    records_for_documents,
    scan_file,
    scan_task,
)
from .storage import (
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

__all__ = ["build_index", "rollback", "update_index"]

ProgressCallback = Callable[[int, "int | None"], None]

# Below this many files, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 200
_WRITER_MB = 256
# Separate segment files: whoosh copies every part of a compound file into memory on open.


# -- reading the source ----------------------------------------------------------------------


def _scan(
    tasks: list[ScanTask], jobs: int
) -> Iterator[tuple[SourceRecord, Document | None]]:
    if jobs <= 1 or len(tasks) < _PARALLEL_MIN_FILES:
        yield from map(scan_task, tasks)
        return
    # Parsing and cleaning run in workers while this process analyses and writes. "fork"
    # keeps build_index usable from any script or notebook ("spawn" would re-import the
    # caller's main module); the workers drop their copy of the writer lock and exit when this
    # process dies, so a kill -9 here leaves no lock and no orphans behind.
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=worker_setup,
        initargs=(os.getpid(),),
    ) as pool:
        yield from pool.map(scan_task, tasks, chunksize=64)


def _folder_tasks(root: Path, settings: Settings) -> list[ScanTask]:
    within = None if settings.follow_symlinks else os.path.realpath(root)
    tasks = [(path, key, settings.max_file_bytes, within) for path, key in page_files(root)]
    tasks.sort(key=lambda t: t[1])  # url ownership goes to the first page in key order
    return tasks


def _is_folder(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return True
    if isinstance(source, Document):
        raise InvalidSourceError("source is a single Document", hint="pass a list of Documents")
    try:
        iter(source)
    except TypeError:
        raise InvalidSourceError(f"cannot index a {type(source).__name__}") from None
    return False


def _checked_documents(source: Iterable[Any]) -> Iterator[Document]:
    for item in source:
        if not isinstance(item, Document):
            raise InvalidSourceError(f"expected Document objects, got {type(item).__name__}")
        yield item


# -- writing -----------------------------------------------------------------------------------


class _Ticker:
    """Calls a progress callback every so often, and always at the end."""

    def __init__(self, callback: ProgressCallback | None, total: int | None) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def tick(self) -> None:
        self.done += 1
        if self.callback is not None and self.done % 250 == 0:
            self.callback(self.done, self.total)

    def advance(self, count: int) -> None:
        self.done += count
        if self.callback is not None:
            self.callback(self.done, self.total)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.done, self.total)


def _with_progress(
    progress: bool | ProgressCallback, label: str, run: Callable[[ProgressCallback | None], Any]
) -> Any:
    if progress is True:
        from .render import ProgressBar

        with ProgressBar(label) as bar:
            return run(bar)
    return run(progress if callable(progress) else None)


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


def _guard(live: int | None, dropped: int, max_drop: float, force: bool, what: str) -> None:
    if force or not live or dropped <= max_drop * live:
        return
    raise RebuildRefusedError(
        f"refusing to {what}: it would remove {dropped:,} of the {live:,} live documents "
        f"(more than {max_drop:.0%}); the index was left as it was"
    )


def _warnings(documents: int, table: SourceTable) -> tuple[str, ...]:
    odd = sorted(
        r.url for r in table.records.values() if r.status == OK and r.url and not _safe_url(r.url)
    )
    if odd:
        # Shown as a link, "javascript:..." would run script on a visitor's click.
        warning = (
            f"{len(odd):,} page(s) have a url that is neither a path nor http(s), e.g. "
            f"{odd[0][:80]!r}: the search page never makes such a url a link; check your own "
            "front end does the same"
        )
        return (warning, *_empty_warning(documents, table))
    return _empty_warning(documents, table)


def _safe_url(url: str) -> bool:
    """The bundled page's rule: a path (not ``//host``) or an http(s) url."""
    if url.startswith("/"):
        return not url.startswith("//")
    return url.lower().startswith(("http://", "https://"))


def _empty_warning(documents: int, table: SourceTable) -> tuple[str, ...]:
    if documents:
        return ()
    seen = len(table.records)
    why = (
        "the source holds no pages"
        if not seen
        else f"no usable page among the {seen:,} found (see the skipped and excluded counts)"
    )
    return (f"the index has no documents: {why}; searches will find nothing",)


def _on_cluster(
    what: str,
    source: Any,
    index_dir: Any,
    lock_timeout: float,
    max_drop: float,
    options: dict[str, Any],
) -> BuildReport:
    """A build or update of an index on a cluster (see ``quicksearch.cluster.writer``)."""
    from .cluster import writer

    run = getattr(writer, what)
    location = parse_location(index_dir)
    return run(source, location, lock_timeout=lock_timeout, max_drop=max_drop, **options)  # type: ignore[no-any-return]


# -- full build --------------------------------------------------------------------------------


def build_index(
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
    """Build a complete new index from ``source`` and make it live atomically.

    ``source`` is a folder (walked recursively for ``*.md``) or an iterable of :class:`Document`.
    Pages that cannot be parsed, lack a url/question/answer, or repeat an earlier page's url are
    skipped and listed in the report; ``no_index`` pages are counted as excluded. Searchers keep
    serving the previous index until the new one is complete. ``progress`` is ``True`` for a
    progress bar on stderr or a callable ``(done, total_or_None)``. A build that would remove
    more than ``max_drop`` (a share) of the live documents raises :class:`RebuildRefusedError`
    and leaves the index as it was, unless ``force``.
    """
    if is_cluster(index_dir):
        options = dict(jobs=jobs, progress=progress, settings=settings, force=force)
        return _on_cluster("build_cluster", source, index_dir, lock_timeout, max_drop, options)
    started = time.perf_counter()
    root = Path(index_dir)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    if _is_folder(source):
        folder = Path(source)  # type: ignore[arg-type]
        tasks = _folder_tasks(folder, settings)
        items: Iterable[tuple[SourceRecord, Document | None]] = _scan(tasks, jobs)
        total: int | None = len(tasks)
        kind, shown_root = "folder", folder
        parallel = jobs > 1 and len(tasks) >= _PARALLEL_MIN_FILES
    else:
        items = records_for_documents(_checked_documents(source))  # type: ignore[arg-type]
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
                write = lambda cb: _write_parallel(tmp_dir, tasks, jobs, _Ticker(cb, total))  # noqa: E731
            else:
                write = lambda cb: _write_full(tmp_dir, items, kind, _Ticker(cb, total))  # noqa: E731
            indexed, table, extra_skipped = _with_progress(progress, "indexing", write)
            _guard(live, (live or 0) - indexed, max_drop, force, "replace the index")
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
        warnings=_warnings(indexed, table),
    )


def _write_full(
    path: Path,
    items: Iterable[tuple[SourceRecord, Document | None]],
    kind: str,
    ticker: _Ticker,
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
    path: Path, tasks: list[ScanTask], jobs: int, ticker: _Ticker
) -> tuple[int, SourceTable, list[SkippedFile]]:
    indexed, table, words, terms, stems = build_segments(path, tasks, jobs, ticker.advance)
    ticker.finish()
    save_vocabulary(None, words, path, terms=terms, stems=stems)
    return indexed, table, []


def _add_all(
    writer: Any, items: Iterable[tuple[SourceRecord, Document | None]], kind: str, ticker: _Ticker
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


def update_index(
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
    """Bring the index in line with ``source``: add new pages, re-index changed ones, delete
    removed ones. Unchanged files are recognised by size and mtime (then by content digest)
    without being parsed. With no index yet, this is a full build.

    An update that would delete more than ``max_drop`` of the live documents (an empty or
    unmounted folder?) raises :class:`RebuildRefusedError` unless ``force``.
    """
    if is_cluster(index_dir):
        options = dict(jobs=jobs, progress=progress, settings=settings, force=force)
        return _on_cluster("update_cluster", source, index_dir, lock_timeout, max_drop, options)
    started = time.perf_counter()
    root = Path(index_dir)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    folder = _is_folder(source)
    try:
        current_generation(root)
    except IndexNotFoundError:
        return build_index(
            source, root, jobs=jobs, progress=progress, settings=settings, lock_timeout=lock_timeout
        )

    with writer_lock(root, timeout=lock_timeout):
        prune(root)  # as in build_index: forget generations rolled back from
        generation = current_generation(root)
        old = SourceTable.load(generation.path)
        same_schema = generation.manifest.get("schema_version") == SCHEMA_VERSION
        if same_schema and old is not None and old.kind == ("folder" if folder else "documents"):
            plan = _with_progress(
                progress,
                "checking",
                lambda cb: _plan_update(source, folder, old, generation.path, jobs, settings, cb),
            )
            return _apply_update(root, generation, old, plan, started, max_drop, force)
    # An index of another schema version, or no usable record of what it holds: rebuild it.
    return build_index(
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
        for task in _folder_tasks(Path(source), settings):
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
        ticker = _Ticker(progress, len(to_scan))
        scanned: Iterable[tuple[SourceRecord, Document | None]] = _scan(to_scan, jobs)
    else:
        ticker = _Ticker(progress, None)
        scanned = records_for_documents(_checked_documents(source))
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
    _guard(live, len(deletes), max_drop, force, "update the index")

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
        warnings=_warnings(documents, plan.table),
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
    if is_cluster(index_dir):
        from .cluster.writer import rollback_cluster

        return rollback_cluster(parse_location(index_dir), lock_timeout=lock_timeout)  # type: ignore[arg-type]
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
