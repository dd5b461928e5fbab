"""The README's quick start works as written (run against a temporary index)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_quick_start_commands(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [command] = re.findall(r"^quicksearch index sample_content .*$", readme, flags=re.M)
    # The venv's scripts first, so the test runs from a venv that is not activated too.
    scripts = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "QUICKSEARCH_INDEX": str(tmp_path / "ix"),
        "PATH": scripts + os.pathsep + os.environ.get("PATH", ""),
    }
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Indexed 30 pages" in result.stdout
    assert "What triggers the process of regulated exocytosis?" in result.stdout


def test_sample_content_has_the_promised_variety() -> None:
    pages = list((ROOT / "sample_content").rglob("*.md"))
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert 25 <= len(pages) <= 40
    assert "no_index: True" in text and "```" in text and "\\frac" in text and "\\n\\n" in text
    assert len(set(re.findall(r"^subject: (.+)$", text, flags=re.M))) >= 6
