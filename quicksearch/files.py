"""Files written so that a reader sees the old version or the new one, never half (engine-free)."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

__all__ = ["fsync_dir", "write_json_atomic"]


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> None:
    """Write JSON to ``path`` so that readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        # dumps, not dump: only a one-shot encode uses the C encoder (index files run to MBs).
        f.write(json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
