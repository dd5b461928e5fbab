"""One exception hierarchy, rooted in :class:`QuickSearchError`.

Every error carries an ``exit_code`` (used by the CLI) and a ``hint`` that tells the user what to
do next, so the CLI can print one line and apps can show or log something useful.
"""

from __future__ import annotations


class QuickSearchError(Exception):
    """Base class of every error quicksearch raises on purpose."""

    exit_code: int = 1
    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InvalidArgumentError(QuickSearchError, ValueError):
    """An option passed to the API is out of range (e.g. ``limit=0``)."""

    exit_code = 2


class IndexNotFoundError(QuickSearchError):
    """There is no index at the given location."""

    exit_code = 3
    default_hint = "build one with: quicksearch index SOURCE --index DIR"


class IndexLockedError(QuickSearchError):
    """Another process is writing to the index."""

    exit_code = 4
    default_hint = "another build is running; wait for it to finish or retry later"


class InvalidSourceError(QuickSearchError):
    """The content source does not exist or cannot be read."""

    exit_code = 5
    default_hint = "pass a folder of .md pages or an iterable of Document objects"


class IndexVersionError(QuickSearchError):
    """The index was built by an incompatible version of quicksearch, or is damaged."""

    exit_code = 6
    default_hint = "rebuild it with: quicksearch index SOURCE --index DIR"


class RebuildRefusedError(QuickSearchError):
    """A build would drop too many of the live documents (an empty or unmounted source?)."""

    exit_code = 7
    default_hint = "check the source folder; use --force (force=True) if the drop is intended"


class NoPreviousGenerationError(QuickSearchError):
    """There is no earlier index generation to roll back to."""

    exit_code = 9
    default_hint = "only the live index exists; rebuild instead"


class ClusterUnavailableError(QuickSearchError):
    """The Typesense cluster did not answer (nodes down, wrong address, no leader)."""

    exit_code = 11
    default_hint = "check that the nodes run and that --index names their API host:port"


class ClusterAuthError(QuickSearchError):
    """The Typesense cluster refused the API key, or none was given."""

    exit_code = 12
    default_hint = "set QUICKSEARCH_TYPESENSE_API_KEY to the key the nodes were started with"


class PageNotFoundError(QuickSearchError):
    """No page with the given url is in the index."""

    exit_code = 13
    default_hint = "give the url exactly as the page's front matter has it"


class QueryLogError(QuickSearchError):
    """The query log cannot be opened for writing."""

    exit_code = 14
    default_hint = "pass a file in a folder this user can write to --query-log"
