"""The HTTP API keeps its own contract: schemathesis, all checks, against a real
``quicksearch serve`` on the fixture index, driven by its served ``/openapi.json``."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from quicksearch import build_index

from .conftest import CLI, FIXTURES, wait_until
from .typesense_cluster import free_port

#: Per operation and phase; about 800 requests in all, a dozen seconds. More locally with
#: QUICKSEARCH_SCHEMATHESIS_EXAMPLES=1000.
EXAMPLES = os.environ.get("QUICKSEARCH_SCHEMATHESIS_EXAMPLES", "60")


def _up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_schemathesis_finds_no_disagreement_with_the_openapi_document(tmp_path: Path) -> None:
    build_index(FIXTURES / "pages", tmp_path / "ix", jobs=1)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*CLI, "serve", "--index", str(tmp_path / "ix"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: _up(base), timeout=60)
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
             "--checks", "all", "--max-examples", EXAMPLES, "--seed", "20261204",
             "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary
    assert " passed" in summary and "failure" not in summary.lower(), summary
    assert "Traceback" not in (server.stderr.read() if server.stderr else "")
