"""Incremental updates, the wipe guard, rollback and the writer lock (library level)."""

import fcntl
import os
import time
from pathlib import Path

import pytest

from quicksearch import (
    IndexLockedError,
    NoPreviousGenerationError,
    RebuildRefusedError,
    build_index,
    open_index,
    rollback,
    update_index,
)
from quicksearch.engines.embedded.storage import generations

from .conftest import write_page


def corpus(folder: Path, n: int = 10) -> Path:
    for i in range(n):
        write_page(
            folder,
            f"s{i % 3}/p{i:03d}.md",
            url=f"/p/{i}",
            question=f"Lantern question {i}?",
            answer=f"Lanterns glow number{i} in the dark.",
            page_id=i,
        )
    return folder


def urls(index_dir: Path, query: str) -> set[str]:
    with open_index(index_dir) as ix:
        return {h.url for h in ix.search(query, limit=100).hits}


def test_change_delete_add(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    write_page(
        src,
        "s1/p001.md",
        url="/p/1",
        question="Lantern question 1?",
        answer="Now about zeppelins.",
        page_id=1,
    )
    (src / "s2/p002.md").unlink()
    write_page(
        src, "new/fresh.md", url="/p/new", question="Fresh kumquat page?", answer="Kumquats."
    )
    report = update_index(src, ix)
    assert (report.mode, report.added, report.updated, report.deleted) == ("update", 1, 1, 1)
    assert report.unchanged == 8 and report.documents == 10
    assert urls(ix, "zeppelins") == {"/p/1"}
    assert urls(ix, "kumquat") == {"/p/new"}
    assert "/p/2" not in urls(ix, "lantern")
    with open_index(ix) as searcher:
        assert searcher.stats().documents == 10


def test_no_change_run_touches_nothing(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    first = build_index(src, ix)
    os.utime(src / "s0/p000.md", ns=(1, 1))  # touched, same bytes
    report = update_index(src, ix)
    assert report.unchanged == 10 and report.indexed == 0 and report.deleted == 0
    assert report.generation == first.generation  # no new generation for nothing


def test_update_without_index_builds_it(tmp_path: Path) -> None:
    report = update_index(corpus(tmp_path / "src"), tmp_path / "ix")
    assert report.mode == "full" and report.documents == 10


def test_update_and_full_rebuild_agree_on_duplicate_urls(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    write_page(src, "s9/copy.md", url="/p/0", question="Copy with zebras?", answer="Zebras.")
    report = build_index(src, ix)
    [dup] = report.skipped
    assert dup.path.endswith("s9/copy.md") and "duplicate url /p/0" in dup.reason
    assert "p000.md" in dup.reason  # names the page that was kept
    (src / "s0/p000.md").unlink()  # the kept page goes: the copy takes over its url
    update_index(src, ix)
    assert urls(ix, "zebras") == {"/p/0"}
    build_index(src, tmp_path / "ix2")
    assert urls(tmp_path / "ix2", "zebras") == {"/p/0"}


def test_documents_source_updates(tmp_path: Path) -> None:
    from quicksearch import Document

    docs = [Document(url=f"/d/{i}", question=f"Q{i} walrus?", answer="A.") for i in range(5)]
    build_index(docs, tmp_path / "ix")
    docs[0] = Document(url="/d/0", question="Q0 narwhal?", answer="A.")
    report = update_index(
        [*docs[:4], Document(url="/d/9", question="Q9?", answer="B.")], tmp_path / "ix"
    )
    assert (report.added, report.updated, report.deleted) == (1, 1, 1)
    assert urls(tmp_path / "ix", "narwhal") == {"/d/0"}


@pytest.mark.parametrize("full", [True, False])
def test_empty_source_is_refused_and_index_kept(tmp_path: Path, full: bool) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    empty = tmp_path / "empty"
    empty.mkdir()
    run = build_index if full else update_index
    with pytest.raises(RebuildRefusedError, match="would remove 10 of the 10"):
        run(empty, ix)
    assert len(urls(ix, "lantern")) == 10
    assert not [p for p in ix.iterdir() if p.name.startswith(".tmp-")]
    assert run(empty, ix, force=True).documents == 0


def test_small_drop_is_allowed(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    (src / "s0/p000.md").unlink()
    (src / "s1/p001.md").unlink()
    assert update_index(src, ix).deleted == 2  # 20% is the limit, not over it


def test_rollback(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    with pytest.raises(NoPreviousGenerationError):
        rollback(ix)
    write_page(src, "x.md", url="/p/x", question="Platypus?", answer="Platypus.")
    update_index(src, ix)
    with open_index(ix) as searcher:
        assert searcher.search("platypus").total == 1
        rollback(ix)
        assert searcher.search("platypus").total == 0  # follows the switch
    update_index(src, ix)  # and the next update brings it back
    assert urls(ix, "platypus") == {"/p/x"}


def test_rollback_after_rollback_and_rebuild_returns_to_the_generation_live_before(
    tmp_path: Path,
) -> None:
    # Found by the lifecycle state machine: the generation rolled back from used to stay
    # behind as the "previous" one, so the next rollback brought the bad index back.
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    good = build_index(src, ix).generation
    write_page(src, "x.md", url="/p/x", question="Platypus?", answer="Platypus.")
    bad = build_index(src, ix).generation
    assert rollback(ix) == good
    (src / "x.md").unlink()
    newest = build_index(src, ix).generation
    assert rollback(ix) == good != bad
    assert newest != good and urls(ix, "platypus") == set()


def test_old_generations_are_pruned(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    for _ in range(4):
        build_index(src, ix)
    assert len(generations(ix)) == 2  # the live one and one to roll back to


def test_locked_index(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    fd = os.open(ix / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with pytest.raises(IndexLockedError):
            build_index(src, ix, lock_timeout=0.3)
        assert time.monotonic() - started < 5
        with open_index(ix) as searcher:  # readers are never blocked
            assert searcher.search("lantern").total == 10
    finally:
        os.close(fd)
    assert build_index(src, ix, lock_timeout=0.3).documents == 10


def test_searcher_does_not_leak_file_handles_across_swaps(tmp_path: Path) -> None:
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.exists():
        pytest.skip("needs /proc")
    with open_index(ix) as searcher:
        searcher.search("lantern")
        before = len(list(fd_dir.iterdir()))
        for _ in range(15):
            build_index(src, ix)
            assert searcher.search("lantern").total == 10
        after = len(list(fd_dir.iterdir()))
    assert after <= before + 2


def test_update_of_an_older_schema_rebuilds(tmp_path: Path) -> None:
    import json

    from quicksearch.engines.embedded.storage import current_generation

    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix)
    manifest = current_generation(ix).path / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "schema_version": 1}))
    report = update_index(src, ix)
    assert report.mode == "full" and report.documents == 10
    assert len(urls(ix, "lantern")) == 10


def test_many_updates_in_a_row_merge_segments_and_keep_every_page(tmp_path: Path) -> None:
    # A nightly update that adds pages writes a small segment each time; after a few, Whoosh
    # merges them, and merged postings used to meet new ones in one pool as bytes and str
    # (TypeError on the fifth update). The merged segment's side file must be whole too.
    src, ix = corpus(tmp_path / "src"), tmp_path / "ix"
    build_index(src, ix, jobs=1)
    for night in range(12):
        write_page(
            src,
            f"new/n{night:02d}.md",
            url=f"/n/{night}",
            question=f"Otter question {night}?",
            answer=f"Otters, night {night}.",
        )
        assert update_index(src, ix, jobs=1).added == 1
    assert len(urls(ix, "otter")) == 12
    assert urls(ix, "lantern") == {f"/p/{i}" for i in range(10)}
    with open_index(ix) as searcher:
        ranker = searcher._require_engine().ranker
        assert all(side is not None for _, _, side in ranker.source._segments)
        assert searcher.search('"otter question"', limit=50).total == 12
