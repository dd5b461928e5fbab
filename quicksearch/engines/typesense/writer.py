"""Building, updating and rolling back an index on a cluster.

A full build writes a new collection, waits until every node holds all of it, then points the
alias at it (one atomic switch for readers) and keeps the collection before for ``rollback``;
older ones, and those of killed builds, are dropped by the next writer. An update writes only
the pages that changed into the live collection. One writer at a time (see ``store.Lease``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quicksearch.config import DEFAULT_SETTINGS, SCHEMA_VERSION, Settings
from quicksearch.engines.typesense.client import Cluster
from quicksearch.engines.typesense.store import (
    CLUSTER_LAYOUT,
    PAGE_FIELDS,
    Lease,
    Statistics,
    drop_meta,
    generations,
    history,
    kept_generations,
    next_generation,
    read_meta,
    set_history,
    wait_replicated,
    write_meta,
)
from quicksearch.engines.typesense.tables import (
    TableBuilder,
    is_tables_of,
    tables_collection,
    write_tables,
)
from quicksearch.errors import IndexNotFoundError, NoPreviousGenerationError, QuickSearchError
from quicksearch.location import ClusterLocation, parse_location
from quicksearch.models import BuildReport, Document, SkippedFile
from quicksearch.pipeline import (
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
from quicksearch.sources import SourceRecord, SourceTable, pages_to_index, records_for_documents

__all__ = ["build", "build_cluster", "rollback", "rollback_cluster", "update", "update_cluster"]

_BATCH = 1000
#: Where each ranked field's terms are in a cluster document.
_TERMS_OF = {"question": "qt", "keywords": "kt", "answer": "at", "question_exact": "qe"}


def _items(source: Any, settings: Settings, jobs: int) -> tuple[Iterable[Any], int | None, str]:
    if is_folder(source):
        tasks = folder_tasks(Path(source), settings)
        return scan(tasks, jobs), len(tasks), "folder"
    total = len(source) if hasattr(source, "__len__") else None
    return records_for_documents(checked_documents(source)), total, "documents"


def _pages(
    items: Iterable[tuple[SourceRecord, Document | None]],
    ticker: Ticker,
    stats: Statistics,
    tables: TableBuilder,
) -> Iterable[tuple[SourceTable, list[dict[str, Any]], list[Any]]]:
    """Cluster documents in batches; the last batch carries the source table."""
    records: dict[str, SourceRecord] = {}
    extra: list[SkippedFile] = []
    batch: list[dict[str, Any]] = []
    for _, doc in pages_to_index(items, records, extra, ticker.tick):
        page = stats.page(doc)
        page["digest"] = _digest(page)
        terms = {f: str(page[k]).split() for f, k in _TERMS_OF.items()}
        tables.add(page["url"], page["id"], page["subject"], page["question_key"], terms)
        batch.append(page)
        if len(batch) >= _BATCH:
            yield SourceTable(_kind(records), records), batch, extra
            batch = []
    ticker.finish()
    yield SourceTable(_kind(records), records), batch, extra


def _kind(records: dict[str, SourceRecord]) -> str:
    """Documents given in Python are keyed by url ("url:..."), files by their path."""
    first = next(iter(records), "")
    return "documents" if first.startswith("url:") else "folder"


def _digest(page: dict[str, Any]) -> str:
    text = json.dumps(page, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _live_documents(cluster: Cluster, alias: str) -> tuple[str | None, int | None]:
    live = cluster.alias(alias)
    if live is None:
        return None, None
    info = cluster.collection(live)
    return live, int(info.get("num_documents", 0)) if info else None


def _prune(cluster: Cluster, alias: str, keep: set[str]) -> None:
    """Drop the generations not kept: older ones, rolled back from, or left by a killed build."""
    for name in generations(cluster, alias):
        if name not in keep:
            cluster.drop_collection(name)
            drop_meta(cluster, alias, name)
    for info in cluster.collections():  # the ranker's tables of the generations dropped
        generation = is_tables_of(str(info.get("name", "")), alias)
        if generation is not None and generation not in keep:
            cluster.drop_collection(str(info["name"]))


def build_cluster(
    source: str | os.PathLike[str] | Iterable[Document],
    location: ClusterLocation,
    *,
    jobs: int | None = None,
    progress: bool | ProgressCallback = False,
    settings: Settings = DEFAULT_SETTINGS,
    lock_timeout: float = 5.0,
    max_drop: float = 0.2,
    force: bool = False,
    mode: str = "full",
) -> BuildReport:
    """A full build into a new collection, switched live by the alias (see the module)."""
    started = time.perf_counter()
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    cluster = Cluster(location)
    cluster.stick_to_leader()
    alias = location.collection
    items, total, kind = _items(source, settings, jobs)
    with Lease(cluster, alias, lock_timeout) as lease:
        live, live_count = _live_documents(cluster, alias)
        _prune(cluster, alias, kept_generations(live, history(cluster, alias)))  # killed builds'

        name = next_generation(cluster, alias)
        cluster.create_collection(
            {"name": name, "fields": PAGE_FIELDS, "symbols_to_index": ["_", "."]}
        )
        stats = Statistics()
        tables = TableBuilder()
        try:

            def write(callback: ProgressCallback | None) -> Any:
                result = None
                for table, batch, extra in _pages(items, Ticker(callback, total), stats, tables):
                    cluster.import_documents(name, batch, action="upsert")
                    lease.renew()
                    result = (table, extra)
                return result

            table, extra = with_progress(progress, "indexing", write)
            indexed = stats.documents
            _mark_repeated(cluster, name, stats.repeated(), set())
            guard(live_count, (live_count or 0) - indexed, max_drop, force, "replace the index")
            write_tables(cluster, alias, name, tables, lease.renew)
            _write_statistics(cluster, alias, name, stats, table, mode)
            wait_replicated(cluster, name, indexed)
        except BaseException:
            with contextlib.suppress(QuickSearchError):  # else the next writer drops it
                cluster.drop_collection(name)
                cluster.drop_collection(tables_collection(name, 1))
                drop_meta(cluster, alias, name)
            raise
        past = history(cluster, alias)
        cluster.set_alias(alias, name)
        # Searchers may still be on the previous "previous" for a moment: retire it, not drop.
        set_history(cluster, alias, live, retired=past.get("previous"))
        _prune(cluster, alias, kept_generations(name, history(cluster, alias)))
    return BuildReport(
        indexed=indexed,
        skipped=_skipped(table, extra, kind, source),
        excluded=sum(r.status == "excluded" for r in table.records.values()),
        seconds=round(time.perf_counter() - started, 3),
        index_dir=str(location),
        generation=name,
        mode=mode,
        added=indexed,
        documents=indexed,
        warnings=warnings(indexed, table),
    )


def _mark_repeated(cluster: Cluster, collection: str, repeated: set[str], marked: set[str]) -> None:
    """Set the ``repeated`` flag of the pages in ``repeated`` and clear it on the other pages
    of ``marked`` (those that have it now)."""
    updates = [{"id": i, "repeated": True} for i in sorted(repeated - marked)]
    updates += [{"id": i, "repeated": False} for i in sorted(marked - repeated)]
    for i in range(0, len(updates), _BATCH):
        cluster.import_documents(collection, updates[i : i + _BATCH], action="update")


def _write_statistics(
    cluster: Cluster, alias: str, name: str, stats: Statistics, table: SourceTable, mode: str
) -> None:
    """What searchers load (statistics, vocabulary) and what the next update compares
    against (the sources), for generation ``name``."""
    meta = stats.to_json(_now(), mode)
    write_meta(cluster, alias, name, "stats", meta["stats"])
    write_meta(cluster, alias, name, "vocabulary", meta["vocabulary"])
    records = {k: r.to_row() for k, r in table.records.items()}
    write_meta(cluster, alias, name, "sources", {"kind": table.kind, "records": records})


def _skipped(table: SourceTable, extra: list[Any], kind: str, source: Any) -> tuple[Any, ...]:
    """The report's skipped pages, with paths under the source folder (if it is one)."""
    return tuple(table.skipped(None if kind == "documents" else Path(source)) + extra)


def _current_layout(cluster: Cluster, alias: str, name: str) -> bool:
    stats = read_meta(cluster, alias, name, "stats") or {}
    return (stats.get("schema_version"), stats.get("cluster_layout", 1)) == (
        SCHEMA_VERSION,
        CLUSTER_LAYOUT,
    )


def update_cluster(
    source: str | os.PathLike[str] | Iterable[Document],
    location: ClusterLocation,
    *,
    jobs: int | None = None,
    progress: bool | ProgressCallback = False,
    settings: Settings = DEFAULT_SETTINGS,
    lock_timeout: float = 5.0,
    max_drop: float = 0.2,
    force: bool = False,
) -> BuildReport:
    """Bring the live collection in line with ``source``: pages are read and analysed again,
    but only those whose content changed are written, and removed ones deleted. The record
    of what each page held is kept in the cluster, so any machine can run the next update."""
    started = time.perf_counter()
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    cluster = Cluster(location)
    cluster.stick_to_leader()
    alias = location.collection
    live = cluster.alias(alias)
    # A collection of another layout (fields an older quicksearch did not write) cannot be
    # patched page by page: it is rebuilt in full, as a folder index of another version is.
    if live is None or not _current_layout(cluster, alias, live):
        return build_cluster(
            source,
            location,
            jobs=jobs,
            progress=progress,
            settings=settings,
            lock_timeout=lock_timeout,
            max_drop=max_drop,
            force=force,
        )
    items, total, kind = _items(source, settings, jobs)
    with Lease(cluster, alias, lock_timeout) as lease:
        live = cluster.alias(alias)
        if live is None:
            raise IndexNotFoundError(f"the index {location} went away during the update")
        rows = list(cluster.export(live, include_fields="id,digest,repeated"))
        old = {d["id"]: d.get("digest", "") for d in rows}
        was_repeated = {d["id"] for d in rows if d.get("repeated")}
        stats = Statistics()
        tables = TableBuilder()
        changed: list[dict[str, Any]] = []
        seen: set[str] = set()

        def read(callback: ProgressCallback | None) -> Any:
            result = None
            for table, batch, extra in _pages(items, Ticker(callback, total), stats, tables):
                for page in batch:
                    seen.add(page["id"])
                    if old.get(page["id"]) != page["digest"]:
                        changed.append(page)
                result = (table, extra)
            return result

        table, extra = with_progress(progress, "checking", read)
        removed = [i for i in old if i not in seen]
        guard(len(old), len(removed), max_drop, force, "update the index")
        added = sum(1 for p in changed if p["id"] not in old)
        for i in range(0, len(changed), _BATCH):
            cluster.import_documents(live, changed[i : i + _BATCH], action="upsert")
            lease.renew()
        for i in range(0, len(removed), 200):
            ids = ",".join(removed[i : i + 200])
            cluster.delete_documents(live, f"id:[{ids}]")
        # Written pages start unmarked; mark (or unmark) where the repetition changed.
        rewritten = {p["id"] for p in changed}
        _mark_repeated(cluster, live, stats.repeated(), (was_repeated & seen) - rewritten)
        _write_statistics(cluster, alias, live, stats, table, "update")
        write_tables(cluster, alias, live, tables, lease.renew)
    return BuildReport(
        indexed=len(changed),
        skipped=_skipped(table, extra, kind, source),
        excluded=sum(r.status == "excluded" for r in table.records.values()),
        seconds=round(time.perf_counter() - started, 3),
        index_dir=str(location),
        generation=live,
        mode="update",
        added=added,
        updated=len(changed) - added,
        deleted=len(removed),
        unchanged=len(seen) - len(changed),
        documents=stats.documents,
        warnings=warnings(stats.documents, table),
    )


def rollback_cluster(location: ClusterLocation, *, lock_timeout: float = 5.0) -> str:
    """Point the alias back at the generation before the last build; return its name."""
    cluster = Cluster(location)
    cluster.stick_to_leader()
    alias = location.collection
    with Lease(cluster, alias, lock_timeout):
        live = cluster.alias(alias)
        previous = history(cluster, alias).get("previous")
        if not previous or cluster.collection(previous) is None:
            raise NoPreviousGenerationError(f"the index {location} has no previous generation")
        if read_meta(cluster, alias, previous, "stats") is None:
            raise NoPreviousGenerationError(f"the previous generation {previous} is incomplete")
        cluster.set_alias(alias, previous)
        set_history(cluster, alias, None, retired=live)  # rolled back from: dropped later
    return str(previous)


# -- the writer interface (see quicksearch.engines.WRITERS) ----------------------------------


def build(source: Any, index_dir: Any, **options: Any) -> BuildReport:
    """A full build on the cluster at ``index_dir`` (see :func:`quicksearch.build_index`)."""
    return build_cluster(source, _location(index_dir), **options)


def update(source: Any, index_dir: Any, **options: Any) -> BuildReport:
    """An update on the cluster at ``index_dir`` (see :func:`quicksearch.update_index`)."""
    return update_cluster(source, _location(index_dir), **options)


def rollback(index_dir: Any, *, lock_timeout: float = 5.0) -> str:
    """Roll the cluster at ``index_dir`` back (see :func:`quicksearch.rollback`)."""
    return rollback_cluster(_location(index_dir), lock_timeout=lock_timeout)


def _location(index_dir: Any) -> ClusterLocation:
    location = parse_location(index_dir)
    assert isinstance(location, ClusterLocation)
    return location
