"""Build, update and roll back an index, whatever engine holds it: each public function
chooses the writer by the index location (see :mod:`quicksearch.engines`); the steps every
writer shares are in :mod:`quicksearch.pipeline`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from quicksearch.caches import sized_for_build
from quicksearch.config import DEFAULT_SETTINGS, Settings
from quicksearch.engines import writer_for
from quicksearch.models import BuildReport, Document
from quicksearch.pipeline import ProgressCallback

__all__ = ["build_index", "rollback", "update_index"]


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
    and leaves the index as it was, unless ``force``. ``index_dir`` is a folder or a cluster
    location (``typesense://HOST:PORT,.../NAME``).
    """
    options = dict(jobs=jobs, progress=progress, settings=settings, force=force)
    writer = writer_for(index_dir)
    with sized_for_build():
        report: BuildReport = writer.build(
            source, index_dir, lock_timeout=lock_timeout, max_drop=max_drop, **options
        )
    return report


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
    options = dict(jobs=jobs, progress=progress, settings=settings, force=force)
    writer = writer_for(index_dir)
    with sized_for_build():
        report: BuildReport = writer.update(
            source, index_dir, lock_timeout=lock_timeout, max_drop=max_drop, **options
        )
    return report


def rollback(index_dir: str | os.PathLike[str] = "index_data", *, lock_timeout: float = 5.0) -> str:
    """Make the generation before the live one live again; return its name.

    Searchers switch on their next search. The generation rolled back from is removed by the
    next build or update.
    """
    return writer_for(index_dir).rollback(index_dir, lock_timeout=lock_timeout)  # type: ignore[no-any-return]
