"""Build a complete index generation from a folder of pages or an iterable of Documents."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from . import __version__
from .config import DEFAULT_SETTINGS, SCHEMA_VERSION, Settings
from .documents import find_pages, iter_pages, try_load_page
from .errors import InvalidSourceError
from .models import BuildReport, Document, SkippedFile
from .schema import KEYWORD_SEPARATOR, make_schema, subject_key
from .storage import new_generation_dir, prune, publish, writer_lock

__all__ = ["build_index"]

ProgressCallback = Callable[[int, "int | None"], None]

# Below this many files, starting worker processes costs more than it saves.
_PARALLEL_MIN_FILES = 200


def _parsed_pages(paths: list[Path], jobs: int, max_bytes: int) -> Iterator[Document | SkippedFile]:
    if jobs <= 1 or len(paths) < _PARALLEL_MIN_FILES:
        yield from iter_pages(paths, max_bytes)
        return
    # Parsing and cleaning run in workers while this process analyses and writes.
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(partial(try_load_page, max_bytes=max_bytes), paths, chunksize=64)


def _source_items(
    source: Any, jobs: int, settings: Settings
) -> tuple[Iterable[Document | SkippedFile], int | None]:
    if isinstance(source, (str, os.PathLike)):
        paths = find_pages(source)
        return _parsed_pages(paths, jobs, settings.max_file_bytes), len(paths)
    if isinstance(source, Document):
        raise InvalidSourceError("source is a single Document", hint="pass a list of Documents")
    try:
        items = iter(source)
    except TypeError:
        raise InvalidSourceError(f"cannot index a {type(source).__name__}") from None
    total = len(source) if hasattr(source, "__len__") else None
    return items, total


def _engine_fields(doc: Document) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "url": doc.url,
        "question": doc.question,
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


class _RichProgress:
    """A progress bar on stderr, for ``build_index(progress=True)``."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> _RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, done: int, total: int | None) -> None:
        if self._task is None:
            self._task = self._progress.add_task("indexing", total=total)
        self._progress.update(self._task, completed=done)


def build_index(
    source: str | os.PathLike[str] | Iterable[Document],
    index_dir: str | os.PathLike[str] = "index_data",
    *,
    jobs: int | None = None,
    progress: bool | ProgressCallback = False,
    settings: Settings = DEFAULT_SETTINGS,
    lock_timeout: float = 5.0,
) -> BuildReport:
    """Build a complete new index from ``source`` and make it live atomically.

    ``source`` is a folder (walked recursively for ``*.md``) or an iterable of :class:`Document`.
    Pages that cannot be parsed, lack a url/question/answer, or repeat an earlier page's url are
    skipped and listed in the report; ``no_index`` pages are counted as excluded. Searchers keep
    serving the previous index until the new one is complete. ``progress`` is ``True`` for a
    progress bar on stderr or a callable ``(done, total_or_None)``.
    """
    started = time.perf_counter()
    root = Path(index_dir)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    items, total = _source_items(source, jobs, settings)

    with writer_lock(root, timeout=lock_timeout):
        tmp_dir = new_generation_dir(root)
        try:
            if progress is True:
                with _RichProgress() as bar:
                    counts = _write_generation(tmp_dir, items, total, bar)
            else:
                callback = progress if callable(progress) else None
                counts = _write_generation(tmp_dir, items, total, callback)
            indexed, excluded, skipped = counts
            manifest = {
                "schema_version": SCHEMA_VERSION,
                "quicksearch_version": __version__,
                "engine": "whoosh",
                "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "documents": indexed,
                "excluded": excluded,
                "skipped": len(skipped),
            }
            generation = publish(root, tmp_dir, manifest)
        except BaseException:
            shutil.rmtree(tmp_dir, ignore_errors=True)
            raise
        prune(root)

    return BuildReport(
        indexed=indexed,
        skipped=tuple(skipped),
        excluded=excluded,
        seconds=round(time.perf_counter() - started, 3),
        index_dir=str(root),
        generation=generation.name,
    )


def _write_generation(
    path: Path,
    items: Iterable[Document | SkippedFile],
    total: int | None,
    progress: ProgressCallback | None,
) -> tuple[int, int, list[SkippedFile]]:
    ix = whoosh_index.create_in(str(path), make_schema())
    writer = ix.writer(limitmb=256)
    seen: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    indexed = excluded = done = 0
    try:
        for item in items:
            done += 1
            if progress is not None and (done % 250 == 0 or done == total):
                progress(done, total)
            if isinstance(item, SkippedFile):
                skipped.append(item)
                continue
            if not isinstance(item, Document):
                raise InvalidSourceError(f"expected Document objects, got {type(item).__name__}")
            where = item.source or item.url
            if not item.url.strip() or not item.question.strip() or not item.answer.strip():
                skipped.append(SkippedFile(where, "missing url, question or answer"))
                continue
            if item.no_index:
                excluded += 1
                continue
            first = seen.get(item.url)
            if first is not None:
                skipped.append(SkippedFile(where, f"duplicate url {item.url} (kept {first})"))
                continue
            seen[item.url] = where
            writer.add_document(**_engine_fields(item))
            indexed += 1
    except BaseException:
        writer.cancel()
        raise
    if progress is not None:
        progress(done, total)
    writer.commit()
    ix.close()
    return indexed, excluded, skipped
