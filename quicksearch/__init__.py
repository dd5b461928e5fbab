"""quicksearch: full-text search for question-and-answer knowledge bases.

Typical use::

    import quicksearch

    quicksearch.build_index("content/", "index_data")
    with quicksearch.open_index("index_data") as index:
        for hit in index.search("regulated exocytosis").hits:
            print(hit.title, hit.url)

The engine (Whoosh) is loaded on first use of :func:`build_index` or :func:`open_index`, so
importing the package, or running ``quicksearch --help``, stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quicksearch.analytics import QueryLog, QueryReport, build_report
from quicksearch.config import SCHEMA_VERSION, Settings
from quicksearch.errors import (
    ClusterAuthError,
    ClusterUnavailableError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    InvalidArgumentError,
    InvalidSourceError,
    NoPreviousGenerationError,
    PageNotFoundError,
    QueryLogError,
    QuickSearchError,
    RebuildRefusedError,
)
from quicksearch.models import (
    BuildReport,
    Completions,
    Document,
    Hit,
    IndexStats,
    SearchResults,
    SkippedFile,
)
from quicksearch.synonyms import load_synonyms
from quicksearch.version import __version__

if TYPE_CHECKING:
    from quicksearch.build import build_index, rollback, update_index
    from quicksearch.searcher import Searcher, open_index


__all__ = [
    "SCHEMA_VERSION",
    "BuildReport",
    "ClusterAuthError",
    "ClusterUnavailableError",
    "Completions",
    "Document",
    "Hit",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexStats",
    "IndexVersionError",
    "InvalidArgumentError",
    "InvalidSourceError",
    "NoPreviousGenerationError",
    "PageNotFoundError",
    "QueryLog",
    "QueryLogError",
    "QueryReport",
    "QuickSearchError",
    "RebuildRefusedError",
    "SearchResults",
    "Searcher",
    "Settings",
    "SkippedFile",
    "__version__",
    "build_index",
    "build_report",
    "load_synonyms",
    "open_index",
    "rollback",
    "update_index",
]

_LAZY = {
    "build_index": "build",
    "update_index": "build",
    "rollback": "build",
    "open_index": "searcher",
    "Searcher": "searcher",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'quicksearch' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
