"""The index folder: immutable generations, an atomic ``CURRENT`` pointer, and a writer lock.

Layout of ``index_dir``::

    CURRENT            name of the live generation (replaced atomically)
    gen-<stamp>/       one complete index each, with manifest.json
    .tmp-<stamp>/      a generation being built (never pointed to; removed if abandoned)
    .lock              held by the one writer

Readers only ever follow ``CURRENT`` to a finished generation, so a build that fails or is killed
leaves the previous index serving. Engine-free: the engine writes inside a generation folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quicksearch.errors import IndexLockedError, IndexNotFoundError, IndexVersionError
from quicksearch.files import fsync_dir, write_json_atomic

POINTER = "CURRENT"
MANIFEST = "manifest.json"
_GEN_PREFIX, _TMP_PREFIX = "gen-", ".tmp-"
#: Generations kept besides the live one, so readers mid-search and a rollback still find them.
KEEP_PREVIOUS = 1


@dataclass(frozen=True)
class Generation:
    """A finished index generation on disk."""

    name: str
    path: Path
    manifest: dict[str, Any]


def pointer_path(index_dir: Path) -> Path:
    return index_dir / POINTER


def pointer_signature(index_dir: Path) -> tuple[int, int] | None:
    """A cheap fingerprint of ``CURRENT`` that changes whenever a new generation goes live."""
    try:
        st = os.stat(pointer_path(index_dir))
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def current_generation(index_dir: str | os.PathLike[str]) -> Generation:
    """The live generation, or :class:`IndexNotFoundError` / :class:`IndexVersionError`."""
    root = Path(index_dir)
    try:
        name = pointer_path(root).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFoundError(f"no search index in {root}") from None
    except OSError as exc:
        raise IndexNotFoundError(f"cannot read the index in {root}: {exc.strerror}") from None
    path = root / name
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexVersionError(f"the index in {root} is damaged (generation {name!r})") from None
    return Generation(name, path, manifest)


def _sequence(path: Path) -> int:
    try:
        return int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return 0


def generations(index_dir: Path) -> list[Path]:
    """Finished generation folders, oldest first."""
    if not index_dir.is_dir():
        return []
    found = [p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith(_GEN_PREFIX)]
    return sorted(found, key=_sequence)


def new_generation_dir(index_dir: Path) -> Path:
    """Create an empty folder to build the next generation in (invisible to readers).

    Call with the writer lock held: generations are numbered in build order.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    taken = [
        _sequence(p) for p in index_dir.iterdir() if p.name.startswith((_GEN_PREFIX, _TMP_PREFIX))
    ]
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    path = index_dir / f"{_TMP_PREFIX}{max(taken, default=0) + 1:06d}-{stamp}"
    path.mkdir()
    return path


def publish(index_dir: Path, tmp_dir: Path, manifest: dict[str, Any]) -> Generation:
    """Seal a built generation and make it live with one atomic rename of ``CURRENT``."""
    write_json_atomic(tmp_dir / MANIFEST, manifest)
    for entry in tmp_dir.iterdir():  # data must be on disk before the pointer names it
        if entry.is_file():
            with open(entry, "rb") as f:
                os.fsync(f.fileno())
    final = index_dir / (_GEN_PREFIX + tmp_dir.name[len(_TMP_PREFIX) :])
    os.replace(tmp_dir, final)
    fsync_dir(index_dir)
    switch_to(index_dir, final.name)
    return Generation(final.name, final, manifest)


def switch_to(index_dir: Path, name: str) -> None:
    """Point ``CURRENT`` at generation ``name`` with one atomic rename."""
    tmp_pointer = index_dir / f".{POINTER}.{uuid.uuid4().hex}.tmp"
    with open(tmp_pointer, "w", encoding="utf-8") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp_pointer, pointer_path(index_dir))
    fsync_dir(index_dir)


def prune(index_dir: Path, keep_previous: int = KEEP_PREVIOUS) -> None:
    """Remove abandoned builds, generations newer than the live one (left by a crash or a
    rollback) and all but the ``keep_previous`` latest older ones. Call with the lock held."""
    try:
        live = pointer_path(index_dir).read_text(encoding="utf-8").strip()
    except OSError:
        return
    gens = generations(index_dir)
    names = [p.name for p in gens]
    if live not in names:
        return
    at = names.index(live)
    doomed = gens[at + 1 :] + gens[: max(0, at - keep_previous)]
    doomed += [p for p in index_dir.iterdir() if p.name.startswith(_TMP_PREFIX)]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)


#: Descriptors of writer locks this process holds (a forked worker closes its copies).
_held_lock_fds: set[int] = set()


def release_inherited_locks() -> None:
    """In a forked child: close the inherited lock descriptors, so that the lock stays the
    parent's alone and dies with it (an flock lives as long as any copy of its descriptor)."""
    for fd in list(_held_lock_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_lock_fds.clear()


@contextlib.contextmanager
def writer_lock(index_dir: Path, timeout: float = 5.0) -> Iterator[None]:
    """Hold the index's writer lock; raise :class:`IndexLockedError` after ``timeout`` seconds.

    An OS-level lock (flock) is released by the kernel when its holder dies, even by kill -9,
    so a crashed build never leaves a stale lock behind.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"the index in {index_dir} is being written by another process"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held_lock_fds.add(fd)
        yield
    finally:
        _held_lock_fds.discard(fd)
        os.close(fd)  # closing releases the flock


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
