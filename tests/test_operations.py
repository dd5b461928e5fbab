"""Nightly-rebuild operations through the real CLI in subprocesses: kill -9, concurrent
builds, readers during rebuilds, locks, exit codes, reports."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from quicksearch import open_index

from .conftest import CLI, write_page

N_PAGES = 1200


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough pages that a full build takes a few seconds (time to interfere with it)."""
    src = tmp_path_factory.mktemp("big") / "src"
    for i in range(N_PAGES):
        write_page(
            src,
            f"t{i % 7}/page{i:05d}.md",
            url=f"/big/{i}",
            subject=f"Topic {i % 7}",
            question=f"How does mechanism {i} of the orrery work?",
            answer=("The orrery models planets. " * 20) + f"Gear ratio {i} matters.",
            page_id=i,
        )
    return src


@pytest.fixture
def built(big_source: Path, tmp_path: Path) -> Path:
    ix = tmp_path / "ix"
    result = cli("index", str(big_source), "--index", str(ix))
    assert result.returncode == 0, result.stderr
    return ix


def children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True, check=False
    ).stdout
    return [int(x) for x in out.split()]


def count(ix: Path) -> int:
    with open_index(ix) as searcher:
        return searcher.stats().documents


def wait_for_build_dir(ix: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".tmp-") for p in ix.iterdir()):
            return
        time.sleep(0.02)
    pytest.fail("the build never started writing")


def test_kill_9_during_full_rebuild_leaves_index_serving(big_source: Path, built: Path) -> None:
    proc = start("index", str(big_source), "--index", str(built), "--full")
    wait_for_build_dir(built, proc)
    time.sleep(0.5)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert count(built) == N_PAGES
    deadline = time.monotonic() + 10  # parsing workers notice and exit too
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    with open_index(built) as searcher:
        assert searcher.search("orrery gear").total == N_PAGES
    result = cli("index", str(big_source), "--index", str(built), "--full", "--wait", "5")
    assert result.returncode == 0, result.stderr  # the dead writer's lock is gone
    assert count(built) == N_PAGES
    assert not [p for p in built.iterdir() if p.name.startswith(".tmp-")]


def test_two_full_rebuilds_at_once(big_source: Path, built: Path) -> None:
    procs = [
        start("index", str(big_source), "--index", str(built), "--full", "--wait", "0.5")
        for _ in range(2)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    errors = [p.stderr.read() for p in procs]  # type: ignore[union-attr]
    assert sorted(codes) in ([0, 0], [0, 4]), errors
    if 4 in codes:
        assert "being written by another process" in errors[codes.index(4)]
    assert all("Traceback" not in e for e in errors)
    assert count(built) == N_PAGES


def test_readers_see_no_errors_and_no_empty_pages_during_rebuilds(
    big_source: Path, built: Path
) -> None:
    stop = threading.Event()
    problems: list[str] = []
    searches = [0]

    def reader() -> None:
        with open_index(built) as long_lived:
            while not stop.is_set():
                try:
                    for searcher in (long_lived, None):
                        if searcher is None:
                            with open_index(built) as fresh:
                                results = fresh.search("orrery mechanism")
                        else:
                            results = searcher.search("orrery mechanism")
                        searches[0] += 1
                        if not results.hits or results.total != N_PAGES:
                            problems.append(f"bad page: total={results.total}")
                except Exception as exc:
                    problems.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(2):
            result = cli("index", str(big_source), "--index", str(built), "--full")
            assert result.returncode == 0, result.stderr
    finally:
        stop.set()
        thread.join()
    assert problems == []
    assert searches[0] > 10


def test_stale_lock_of_a_killed_writer_is_recovered(big_source: Path, built: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys, time\n"
                f"fd = os.open({str(built / '.lock')!r}, os.O_RDWR)\n"
                "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
    locked = cli("index", str(big_source), "--index", str(built), "--wait", "0.2")
    assert locked.returncode == 4
    assert "being written by another process" in locked.stderr
    assert "Traceback" not in locked.stderr
    holder.kill()
    holder.wait()
    assert cli("index", str(big_source), "--index", str(built), "--wait", "0.2").returncode == 0


def test_empty_folder_full_rebuild_is_refused(built: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    before = sorted(p.name for p in built.iterdir())
    result = cli("index", str(empty), "--index", str(built), "--full")
    assert result.returncode == 7
    assert "refusing" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in built.iterdir()) == before
    assert count(built) == N_PAGES


def test_bad_files_are_reported_not_fatal(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(5):
        write_page(src, f"good{i}.md", url=f"/g/{i}", question=f"Good page {i}?", answer="Fine.")
    (src / "a-broken-yaml.md").write_text("---\nquestion: [unclosed\n---\n")
    (src / "b-list.md").write_text("---\n- just\n- a list\n---\n")
    write_page(src, "c-no-answer.md", url="/bad/c", question="Where is my answer?", answer="")
    (src / "d-binary.md").write_bytes(b"\x00\x01\x02\xff" * 10)
    (src / "e-empty.md").write_text("")
    (src / "f-latin1.md").write_bytes("---\nquestion: caf\xe9\n---\n".encode("latin-1"))
    write_page(src, "g-huge.md", url="/bad/g", question="Huge?", answer="x" * 5000)
    (src / "h-dangling.md").symlink_to(src / "nowhere.md")
    (src / "i-loop.md").symlink_to(src / "i-loop.md")
    (src / "sub").mkdir()
    (src / "sub" / "up").symlink_to(src)  # a folder loop
    write_page(src, "z-dup.md", url="/g/0", question="Same url as good0?", answer="Dup.")
    report_file = tmp_path / "report.json"
    result = cli(
        "index",
        str(src),
        "--index",
        str(tmp_path / "ix"),
        "--max-file-bytes",
        "3000",
        "--report",
        str(report_file),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(report_file.read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {
        "a-broken-yaml.md",
        "b-list.md",
        "c-no-answer.md",
        "d-binary.md",
        "e-empty.md",
        "f-latin1.md",
        "g-huge.md",
        "h-dangling.md",
        "i-loop.md",
        "z-dup.md",
    }
    assert "good0.md" in reasons["z-dup.md"]
    for name in reasons:
        assert name in result.stderr  # one warning line each
    assert report["ok"] is True and report["documents"] == 5
    strict = cli("index", str(src), "--index", str(tmp_path / "ix"), "--strict")
    assert strict.returncode == 8


def test_rollback_command(big_source: Path, built: Path, tmp_path: Path) -> None:
    nothing = cli("rollback", "--index", str(built))
    assert nothing.returncode == 9 and "no earlier index generation" in nothing.stderr
    extra = big_source.parent / "extra"
    shutil.copytree(big_source, extra)
    write_page(extra, "new.md", url="/big/new", question="Tellurion?", answer="A tellurion.")
    assert cli("index", str(extra), "--index", str(built)).returncode == 0
    assert count(built) == N_PAGES + 1
    result = cli("rollback", "--index", str(built))
    assert result.returncode == 0 and "Rolled back" in result.stdout
    assert count(built) == N_PAGES
    shutil.rmtree(extra)


def test_report_file_on_error(tmp_path: Path) -> None:
    report_file = tmp_path / "r.json"
    result = cli(
        "index",
        str(tmp_path / "missing"),
        "--index",
        str(tmp_path / "ix"),
        "--report",
        str(report_file),
    )
    assert result.returncode == 5
    data = json.loads(report_file.read_text())
    assert data["ok"] is False and data["exit_code"] == 5


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    src = tmp_path / "src"
    write_page(src, "ok.md", url="/ok", question="Ok?", answer="Ok.")
    secret = write_page(src, "secret.md", url="/s", question="Secret?", answer="No.")
    secret.chmod(0)
    result = cli("index", str(src), "--index", str(tmp_path / "ix"))
    assert result.returncode == 0 and "secret.md" in result.stderr
