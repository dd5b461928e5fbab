"""The steps every index writer shares, whatever engine it writes to (engine-free): finding
and reading pages (in worker processes), checking a source of Documents, progress, the wipe
guard and the report's warnings. The writers themselves are in ``quicksearch.engines``; the
public functions that choose one are in ``quicksearch.build``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from quicksearch.config import Settings
from quicksearch.documents import page_files
from quicksearch.errors import InvalidSourceError, RebuildRefusedError
from quicksearch.models import Document
from quicksearch.sources import OK, ScanTask, SourceRecord, SourceTable, scan_task

__all__ = [
    "PARALLEL_MIN_FILES",
    "ProgressCallback",
    "Ticker",
    "checked_documents",
    "folder_tasks",
    "guard",
    "is_folder",
    "scan",
    "warnings",
    "watch_parent",
    "with_progress",
]

ProgressCallback = Callable[[int, "int | None"], None]

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 200


# -- reading the source ----------------------------------------------------------------------


def watch_parent(parent_pid: int) -> None:
    """In a forked worker: exit soon after the process that started it dies."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def scan(
    tasks: list[ScanTask], jobs: int, initializer: Callable[[int], None] | None = None
) -> Iterator[tuple[SourceRecord, Document | None]]:
    """Read, digest and parse page files, in ``jobs`` worker processes for many of them; each
    worker runs ``initializer(parent_pid)`` first (default: :func:`watch_parent`)."""
    if jobs <= 1 or len(tasks) < PARALLEL_MIN_FILES:
        yield from map(scan_task, tasks)
        return
    # Parsing and cleaning run in workers while this process analyses and writes. "fork"
    # keeps build_index usable from any script or notebook ("spawn" would re-import the
    # caller's main module); the workers exit when this process dies (and an engine's
    # initializer drops their copy of its writer lock), so a kill -9 here leaves no lock and
    # no orphans behind.
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=initializer or watch_parent,
        initargs=(os.getpid(),),
    ) as pool:
        yield from pool.map(scan_task, tasks, chunksize=64)


def folder_tasks(root: Path, settings: Settings) -> list[ScanTask]:
    within = None if settings.follow_symlinks else os.path.realpath(root)
    tasks = [(path, key, settings.max_file_bytes, within) for path, key in page_files(root)]
    tasks.sort(key=lambda t: t[1])  # url ownership goes to the first page in key order
    return tasks


def is_folder(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return True
    if isinstance(source, Document):
        raise InvalidSourceError("source is a single Document", hint="pass a list of Documents")
    try:
        iter(source)
    except TypeError:
        raise InvalidSourceError(f"cannot index a {type(source).__name__}") from None
    return False


def checked_documents(source: Iterable[Any]) -> Iterator[Document]:
    for item in source:
        if not isinstance(item, Document):
            raise InvalidSourceError(f"expected Document objects, got {type(item).__name__}")
        yield item


# -- progress, guard and warnings ------------------------------------------------------------


class Ticker:
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


def with_progress(
    progress: bool | ProgressCallback, label: str, run: Callable[[ProgressCallback | None], Any]
) -> Any:
    if progress is True:
        from quicksearch.render import ProgressBar

        with ProgressBar(label) as bar:
            return run(bar)
    return run(progress if callable(progress) else None)


def guard(live: int | None, dropped: int, max_drop: float, force: bool, what: str) -> None:
    if force or not live or dropped <= max_drop * live:
        return
    raise RebuildRefusedError(
        f"refusing to {what}: it would remove {dropped:,} of the {live:,} live documents "
        f"(more than {max_drop:.0%}); the index was left as it was"
    )


def warnings(documents: int, table: SourceTable) -> tuple[str, ...]:
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
