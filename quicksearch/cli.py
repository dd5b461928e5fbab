"""The ``quicksearch`` command: each command parses options, makes one library call, renders.

The engine is imported inside the commands, so ``quicksearch --help`` starts fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from quicksearch.errors import QuickSearchError
from quicksearch.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

#: Exit status for a bug in quicksearch itself (EX_SOFTWARE), distinct from user errors.
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
#: Exit status of ``index --strict`` when pages were skipped.
EXIT_SKIPPED = 8
#: Exit status of ``index --strict`` when the index ends up with no documents.
EXIT_EMPTY = 10


def _console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _fail(message: str, hint: str, code: int) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into one line on stderr and the error's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QuickSearchError as exc:
            _fail(exc.message, exc.hint, exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as exc:
            if os.environ.get("QUICKSEARCH_DEBUG"):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in quicksearch; rerun with QUICKSEARCH_DEBUG=1 for details",
                EXIT_INTERNAL,
            )

    return wrapper  # type: ignore[return-value]


def index_option(func: F) -> F:
    return click.option(
        "--index",
        "index_dir",
        default="index_data",
        show_default=True,
        envvar="QUICKSEARCH_INDEX",
        type=click.Path(file_okay=False),
        help="Index folder (env: QUICKSEARCH_INDEX).",
    )(func)


def wait_option(func: F) -> F:
    return click.option(
        "--wait",
        "wait",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        metavar="SECONDS",
        help="How long to wait for another writer to finish.",
    )(func)


def synonyms_option(func: F) -> F:
    return click.option(
        "--synonyms",
        type=click.Path(dir_okay=False),
        envvar="QUICKSEARCH_SYNONYMS",
        help="File of equivalent words, one comma-separated group per line.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="quicksearch")
def main() -> None:
    """Full-text search for question-and-answer pages.

    \b
    Example:
        quicksearch index sample_content
        quicksearch search regulated exocytosis
    """
    from quicksearch.analysis import lean_nltk_import

    lean_nltk_import()  # this process runs only quicksearch


@main.command()
@click.argument("source", type=click.Path(file_okay=False))
@index_option
@click.option("--full", is_flag=True, help="Rebuild everything instead of applying changes.")
@click.option("--force", is_flag=True, help="Allow a run that removes many live pages.")
@click.option(
    "--max-drop",
    type=click.FloatRange(0, 1),
    default=0.2,
    show_default=True,
    help="Largest share of live pages a run may remove without --force.",
)
@wait_option
@click.option(
    "--strict",
    is_flag=True,
    help=f"Exit {EXIT_SKIPPED} if any page was skipped, {EXIT_EMPTY} if the index is empty.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the report (or the error) as JSON to this file.",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="Skip page files larger than this.",
)
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Read pages that are symbolic links to files outside SOURCE (skipped by default).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes for parsing (default: all cores).",
)
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Print only errors and skipped pages.")
@handle_errors
def index(
    source: str,
    index_dir: str,
    full: bool,
    force: bool,
    max_drop: float,
    wait: float,
    strict: bool,
    report_file: str | None,
    max_file_bytes: int,
    follow_symlinks: bool,
    jobs: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Index a folder of .md pages: new, changed and removed pages are applied to the
    existing index (or everything with --full). Searches keep working meanwhile.

    \b
    Example:
        quicksearch index content/ --index index_data
        quicksearch index content/ --full --report /var/log/quicksearch.json
    """
    from quicksearch.build import build_index, update_index
    from quicksearch.config import Settings
    from quicksearch.render import print_report, to_json

    run = build_index if full else update_index
    show_progress = not (quiet or as_json) and sys.stderr.isatty()
    try:
        report = run(
            source,
            index_dir,
            jobs=jobs,
            progress=show_progress,
            lock_timeout=wait,
            max_drop=max_drop,
            force=force,
            settings=Settings(max_file_bytes=max_file_bytes, follow_symlinks=follow_symlinks),
        )
    except QuickSearchError as exc:
        if report_file:
            _write_report(
                report_file, {"ok": False, "error": exc.message, "exit_code": exc.exit_code}
            )
        raise
    data = {"ok": True, **report.to_dict()}
    if report_file:
        _write_report(report_file, data)
    if as_json:
        click.echo(to_json(data))
        for warning in report.warnings:  # stdout is for the machine; people read stderr
            click.secho(f"warning: {warning}", fg="yellow", err=True)
    else:
        print_report(_console(), _console(stderr=True), report, quiet=quiet)
    if strict and not report.documents:
        sys.exit(EXIT_EMPTY)
    if strict and report.skipped:
        sys.exit(EXIT_SKIPPED)


def _write_report(path: str, data: dict[str, Any]) -> None:
    from pathlib import Path

    from quicksearch.files import write_json_atomic

    write_json_atomic(Path(path).resolve(), data)


@main.command()
@index_option
@wait_option
@handle_errors
def rollback(index_dir: str, wait: float) -> None:
    """Make the previous index generation live again (undo the last build or update).

    \b
    Example:
        quicksearch rollback --index index_data
    """
    from quicksearch.build import rollback as rollback_index

    name = rollback_index(index_dir, lock_timeout=wait)
    click.echo(f"Rolled back {index_dir} to generation {name}")


@main.command()
@click.argument("query", nargs=-1, required=True)
@index_option
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Results per page.",
)
@click.option(
    "--page",
    "-p",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Page of results.",
)
@click.option("--subject", "-s", default=None, help="Only this subject (any spelling).")
@synonyms_option
@click.option("--all-duplicates", is_flag=True, help="Show every page that asks the same question.")
@json_option
@handle_errors
def search(
    query: tuple[str, ...],
    index_dir: str,
    limit: int,
    page: int,
    subject: str | None,
    synonyms: str | None,
    all_duplicates: bool,
    as_json: bool,
) -> None:
    """Search the index. Words may be quoted ("exact phrase"), -excluded, joined by OR, or
    subject:name. Typos are forgiven and the last word may be unfinished.

    \b
    Example:
        quicksearch search regulated exocytosis
        quicksearch search '"buffer solution" ph' --subject chemistry --json
        quicksearch search 'mitosis OR meiosis -plants'
    """
    from quicksearch.config import Settings
    from quicksearch.render import print_results, to_json
    from quicksearch.searcher import open_index
    from quicksearch.synonyms import load_synonyms

    settings = Settings(synonyms=load_synonyms(synonyms) if synonyms else ())
    with open_index(index_dir, settings=settings) as searcher:
        results = searcher.search(
            " ".join(query),
            limit=limit,
            page=page,
            subject=subject,
            collapse_duplicates=not all_duplicates,
        )
    if as_json:
        click.echo(to_json(results.to_dict()))
    else:
        print_results(_console(), results)


@main.command()
@click.argument("url")
@index_option
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, 100),
    default=5,
    show_default=True,
    help="Most pages to show.",
)
@click.option("--subject", "-s", default=None, help="Only pages of this subject (any spelling).")
@json_option
@handle_errors
def related(url: str, index_dir: str, limit: int, subject: str | None, as_json: bool) -> None:
    """Show the pages most like the page at URL (never that page, nor pages asking its
    question). Exit code 13 when no page has that url.

    \b
    Example:
        quicksearch related /learn/biology/questions/what-triggers-regulated-exocytosis
    """
    from quicksearch.render import print_related, to_json
    from quicksearch.searcher import open_index

    with open_index(index_dir) as searcher:
        hits = searcher.related(url, limit=limit, subject=subject)
    if as_json:
        click.echo(to_json({"url": url, "hits": [hit.to_dict() for hit in hits]}))
    else:
        print_related(_console(), url, hits)


@main.command()
@index_option
@json_option
@handle_errors
def stats(index_dir: str, as_json: bool) -> None:
    """Show document count, size and build time of the index.

    \b
    Example:
        quicksearch stats --json
    """
    from quicksearch.render import print_stats, to_json
    from quicksearch.searcher import open_index

    with open_index(index_dir) as searcher:
        facts = searcher.stats()
    if as_json:
        click.echo(to_json(facts.to_dict()))
    else:
        print_stats(_console(), facts)


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes (one per core serves most traffic).",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let pages from ORIGIN call the API (repeatable; none by default).",
)
@click.option(
    "--link-base",
    default="",
    metavar="URL",
    help="Prefix for result links on the search page (e.g. https://example.org).",
)
@synonyms_option
@click.option(
    "--query-log",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Append each search and result click to FILE as JSON lines (see: quicksearch report).",
)
@click.option(
    "--learned",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    metavar="FILE",
    help="Reorder results by the preferences in FILE (see: quicksearch learn).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@handle_errors
def serve(
    index_dir: str,
    host: str,
    port: int,
    workers: int,
    cors_origins: tuple[str, ...],
    link_base: str,
    synonyms: str | None,
    query_log: str | None,
    learned: str | None,
    log_level: str,
) -> None:
    """Serve the index over HTTP: a JSON API (/search, /suggest, /related, /click, /health,
    /metrics, /openapi.json) and a search page at /. A rebuild of the index is picked up
    without a restart.

    \b
    Example:
        quicksearch serve --index index_data --port 8080
        quicksearch serve --host 0.0.0.0 --workers 2 --cors-origin https://example.org
        quicksearch serve --query-log /var/log/quicksearch/queries.jsonl
    """
    try:
        from quicksearch.server import ServerConfig
        from quicksearch.server import serve as run_server
    except ImportError as exc:
        raise QuickSearchError(
            f"the server needs packages that are not installed ({exc.name})",
            hint="pip install 'quicksearch[server]'",
        ) from None
    from quicksearch.searcher import open_index
    from quicksearch.synonyms import load_synonyms

    config = ServerConfig(
        index_dir=index_dir,
        cors_origins=cors_origins,
        link_base=link_base.rstrip("/"),
        synonyms=load_synonyms(synonyms) if synonyms else (),
        query_log=os.path.abspath(query_log) if query_log else None,
        learned=os.path.abspath(learned) if learned else None,
    )
    if learned:
        from quicksearch.learning import load_learned

        load_learned(learned)  # say now, not in every worker, that it cannot be read
    if query_log:
        from quicksearch.analytics import QueryLog

        QueryLog(query_log).close()  # say now, not in every worker, that it cannot be written
    # Fail here, with the usual message and exit code, rather than in every worker.
    with open_index(index_dir) as searcher:
        documents = searcher.stats().documents
    click.echo(
        f"Serving {documents} pages from {index_dir} on http://{host}:{port}/ (Ctrl+C to stop)",
        err=True,
    )
    run_server(config, host=host, port=port, workers=workers, log_level=log_level)


def _log_paths(files: tuple[str, ...], rotated: bool) -> list[Any]:
    """The query log files named, with logrotate's older ones when ``rotated``."""
    from quicksearch.analytics import report_files

    paths: list[Any] = []
    for name in files:
        found = report_files(name) if rotated else [name]
        if not found:
            raise QuickSearchError(f"no query log at {name}", hint="pass the --query-log file")
        paths.extend(found)
    return paths


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--since", metavar="WHEN", help="From this moment: 2026-12-01, 2026-12-01T06:00, 7d.")
@click.option("--until", metavar="WHEN", help="Up to (not including) this moment.")
@click.option(
    "--top", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Rows per table."
)
@click.option(
    "--min-searches",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Searches a query needs to be listed as rarely clicked.",
)
@click.option(
    "--rotated", is_flag=True, help="Also read FILE.1, FILE.2.gz, ... (logrotate's old files)."
)
@json_option
@handle_errors
def report(
    files: tuple[str, ...],
    since: str | None,
    until: str | None,
    top: int,
    min_searches: int,
    rotated: bool,
    as_json: bool,
) -> None:
    """What visitors searched for, from the query log of `quicksearch serve --query-log`:
    top queries, queries with no result (pages to write), rarely clicked queries, the slowest,
    and searches per subject.

    \b
    Example:
        quicksearch report queries.jsonl --since 7d
        quicksearch report queries.jsonl --rotated --json > report.json
    """
    from quicksearch.analytics import build_report
    from quicksearch.render import print_query_report, to_json

    paths = _log_paths(files, rotated)
    result = build_report(paths, since=since, until=until, top=top, min_searches=min_searches)
    if as_json:
        click.echo(to_json(result.to_dict()))
    else:
        print_query_report(_console(), result)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="The learned file to write."
)
@click.option("--diff", is_flag=True, help="Show what would change against --out; write nothing.")
@click.option("--window-days", type=click.IntRange(1), default=90, show_default=True)
@click.option(
    "--min-searches",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Searches a query needs before its clicks change anything.",
)
@click.option(
    "--min-days",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Distinct days those searches must be spread over.",
)
@click.option(
    "--max-move",
    type=click.IntRange(0, 10),
    default=3,
    show_default=True,
    help="Places a preferred page may move up.",
)
@click.option(
    "--rotated", is_flag=True, help="Also read FILE.1, FILE.2.gz, ... (logrotate's old files)."
)
@handle_errors
def learn(
    files: tuple[str, ...],
    out: str,
    diff: bool,
    window_days: int,
    min_searches: int,
    min_days: int,
    max_move: int,
    rotated: bool,
) -> None:
    """Learn which page visitors mean by a query from the clicks in the query log of
    `quicksearch serve --query-log`, and popular whole queries for autocomplete; write them
    to --out for `serve --learned`. Exclusions and switched-off queries of an existing --out
    are kept.

    \b
    Example:
        quicksearch learn queries.jsonl --rotated --out learned.json --diff
        quicksearch learn queries.jsonl --rotated --out learned.json
    """
    from quicksearch.files import write_json_atomic
    from quicksearch.learning import LearningOptions, learned_diff
    from quicksearch.learning import learn as fit

    paths = _log_paths(files, rotated)
    previous = None
    if os.path.exists(out):
        try:
            with open(out, encoding="utf-8") as handle:
                previous = json.load(handle)
        except (OSError, ValueError) as exc:
            raise QuickSearchError(
                f"cannot read {out}: {exc}", hint="remove it or pass another --out"
            ) from None
    options = LearningOptions(
        window_days=window_days, min_searches=min_searches, min_days=min_days, max_move=max_move
    )
    data = fit(paths, options=options, previous=previous)
    changes = learned_diff(previous, data)
    if diff:
        for line in changes or ["(no query would change)"]:
            click.echo(line)
        return
    write_json_atomic(Path(out), data, indent=1)
    click.echo(
        f"{len(data['queries'])} queries learned, {len(data['popular'])} popular queries, "
        f"from {data['searches']} searches ({data['ignored_clicks']} clicks ignored); "
        f"{len(changes)} changes; wrote {out}",
        err=True,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
