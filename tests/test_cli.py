"""The CLI through its real entry point (a subprocess running the installed console script)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CLI, FIXTURES


def run(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("QUICKSEARCH_INDEX", None) if env is None else None
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("cli") / "ix"
    result = run("index", str(FIXTURES / "pages"), "--index", str(index_dir))
    assert result.returncode == 0, result.stderr
    assert "Indexed 7 pages" in result.stdout and "excluded 1" in result.stdout
    return index_dir


def test_search_json_contract(cli_index: Path) -> None:
    result = run("search", "regulated", "exocytosis", "--index", str(cli_index), "--json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert set(data) >= {"query", "total", "page", "suggestion", "facets", "hits"}
    assert data["query"] == "regulated exocytosis" and data["page"] == 1
    hit = data["hits"][0]
    assert set(hit) >= {"url", "title", "subject", "date", "score", "snippet"}
    assert hit["url"] == "/learn/biology/questions/what-triggers-regulated-exocytosis"
    assert "<mark>" in hit["snippet"]


def test_human_output_is_plain_when_piped(cli_index: Path) -> None:
    result = run("search", "buffer", "--index", str(cli_index))
    assert result.returncode == 0
    assert "1. How do buffer solutions keep the pH stable?" in result.stdout
    assert "\x1b[" not in result.stdout and "<mark>" not in result.stdout
    assert "/learn/chemistry/questions/buffer-solutions" in result.stdout


def test_options_and_env_var(cli_index: Path) -> None:
    result = run(
        "search",
        "acid",
        "--subject",
        "CHEMISTRY",
        "--limit",
        "1",
        "--page",
        "2",
        "--json",
        env={"QUICKSEARCH_INDEX": str(cli_index)},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["page"] == 2 and len(data["hits"]) == 1
    assert data["facets"]["Chemistry"] == data["total"]


def test_stats_json_counts_indexable_pages(cli_index: Path) -> None:
    result = run("stats", "--index", str(cli_index), "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["documents"] == 7


def test_missing_index_is_one_clear_line(tmp_path: Path) -> None:
    result = run("search", "acid", "--index", str(tmp_path / "none"))
    assert result.returncode == 3
    assert "no search index" in result.stderr and "quicksearch index" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_source(tmp_path: Path) -> None:
    result = run("index", str(tmp_path / "nowhere"), "--index", str(tmp_path / "ix"))
    assert result.returncode == 5
    assert "source folder not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["search"], ["search", "x", "--limit", "0"], ["bogus"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_index_reports_skipped_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "pages", src)
    (src / "broken.md").write_text("---\nquestion: [oops\n---\n")
    result = run("index", str(src), "--index", str(tmp_path / "ix"))
    assert result.returncode == 0
    assert "broken.md" in result.stderr and "invalid YAML" in result.stderr
    assert "skipped 1" in result.stdout


def test_help_does_not_import_the_engine() -> None:
    code = (
        "import sys; from quicksearch.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('whoosh', 'nltk', 'numpy', 'rapidfuzz')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]")


def test_serve_without_an_index_says_so(tmp_path: Path) -> None:
    result = run("serve", "--index", str(tmp_path / "nothing"), "--port", "0")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr and "error:" in result.stderr
