"""Output for people (rich text in a terminal, plain when piped) and for machines (JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from quicksearch.analytics import QueryReport, QueryStats
from quicksearch.models import BuildReport, Hit, IndexStats, SearchResults

MARK_STYLE = "bold yellow"


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def styled(text: str, spans: tuple[tuple[int, int], ...], style: str = MARK_STYLE) -> Text:
    """``text`` as rich Text with the matched ``spans`` styled (plain when not a terminal)."""
    out = Text(text)
    for start, end in spans:
        out.stylize(style, start, end)
    return out


def print_results(console: Console, results: SearchResults) -> None:
    if results.suggestion:
        console.print(Text.assemble("Did you mean: ", (results.suggestion, "bold"), "?"))
    if not results.hits:
        if results.total:
            console.print(f"No results on page {results.page} ({results.total_text} in all).")
        else:
            console.print(f"No results for {results.query!r}.")
        return
    first = (results.page - 1) * results.limit + 1
    for rank, hit in enumerate(results.hits, start=first):
        _print_hit(console, rank, hit)
        snippet = Text("     ")
        snippet.append_text(styled(hit.snippet_text, hit.snippet_spans))
        console.print(snippet)
        console.print()
    shown = f"{first}-{first + len(results.hits) - 1}"
    console.print(
        Text(
            f"{shown} of {results.total_text} results (page {results.page} of {results.pages})",
            style="dim",
        )
    )


def print_related(console: Console, url: str, hits: list[Hit]) -> None:
    if not hits:
        console.print(f"No related pages for {url}.")
        return
    for rank, hit in enumerate(hits, start=1):
        _print_hit(console, rank, hit)


def _print_hit(console: Console, rank: int, hit: Hit) -> None:
    """A hit's numbered title, then its subject and url."""
    line = Text(f"{rank:>3}. ", style="bold")
    line.append_text(styled(hit.title, hit.title_spans))
    console.print(line)
    meta = Text("     ")
    meta.append(hit.subject or "-", style="cyan")
    meta.append(f"  {hit.url}", style="dim")
    console.print(meta, crop=False)


def print_report(
    console: Console,
    warnings: Console,
    report: BuildReport,
    *,
    quiet: bool = False,
    max_listed: int = 20,
) -> None:
    """Skipped pages as one-line warnings on ``warnings`` (stderr), then the summary."""
    for skipped in report.skipped[:max_listed]:
        warnings.print(
            Text.assemble(("skipped ", "yellow"), f"{skipped.path}: {skipped.reason}"), crop=False
        )
    if len(report.skipped) > max_listed:
        warnings.print(f"... and {len(report.skipped) - max_listed} more skipped pages")
    for warning in report.warnings:
        warnings.print(Text.assemble(("warning: ", "yellow"), warning), crop=False)
    if quiet:
        return
    if report.mode == "full":
        what = f"Indexed {report.indexed:,} pages"
    else:
        what = (
            f"Updated index: {report.added:,} added, {report.updated:,} updated, "
            f"{report.deleted:,} deleted, {report.unchanged:,} unchanged"
        )
    console.print(
        f"{what}, skipped {len(report.skipped):,}, excluded {report.excluded:,} (no_index) "
        f"in {report.seconds:.1f} s → {report.index_dir} ({report.documents:,} documents)",
        crop=False,
    )


def print_stats(console: Console, stats: IndexStats) -> None:
    console.print(f"documents       {stats.documents:,}")
    console.print(f"size            {stats.size_bytes / 1_048_576:.1f} MiB")
    console.print(f"built at        {stats.built_at}")
    console.print(f"schema version  {stats.schema_version}")
    console.print(f"generation      {stats.generation}")
    console.print(f"index           {stats.index_dir}")
    console.print(f"subjects        {len(stats.subjects)}")
    for subject, count in stats.subjects.items():
        console.print(f"  {count:>7,}  {subject or '(none)'}")


class ProgressBar:
    """A progress bar on stderr, called as ``bar(done, total)`` (``build_index(progress=True)``)."""

    def __init__(self, label: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, done: int, total: int | None) -> None:
        if self._task is None:
            self._task = self._progress.add_task("", total=total)
        self._progress.update(self._task, completed=done)


def print_query_report(console: Console, report: QueryReport) -> None:
    """The query report as tables: what visitors searched for and what they did not find."""
    from rich.table import Table

    window = f"{report.first_event or '-'} to {report.last_event or '-'}"
    console.print(Text(f"Searches {window}", style="bold"))
    zero_share = report.zero_result_searches / report.searches if report.searches else 0.0
    console.print(
        f"{report.searches} searches ({report.typing_folded} typed on the way to another), "
        f"{report.distinct_queries} distinct queries, {report.clicks} clicks, "
        f"{report.zero_result_searches} with no result ({zero_share:.1%})"
    )
    if report.latency_ms_p50 is not None:
        console.print(f"latency: p50 {report.latency_ms_p50} ms, p95 {report.latency_ms_p95} ms")
    if report.damaged_lines:
        console.print(Text(f"{report.damaged_lines} damaged lines skipped", style="yellow"))

    def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
        if not rows:
            return
        out = Table(title=title, title_justify="left", title_style="bold", show_edge=False)
        for i, name in enumerate(columns):
            out.add_column(name, justify="left" if i == 0 else "right", overflow="fold")
        for row in rows:
            out.add_row(*("-" if cell is None else str(cell) for cell in row))
        console.print()
        console.print(out)

    def ctr(s: QueryStats) -> str:
        return f"{s.click_through:.0%}"

    table(
        "Top queries",
        ["query", "searches", "no result", "click-through"],
        [[s.query, s.searches, s.zero_results, ctr(s)] for s in report.top_queries],
    )
    table(
        "No results: pages to write",
        ["query", "searches", "suggested"],
        [[s.query, s.zero_results, s.suggestion] for s in report.zero_result_queries],
    )
    table(
        "Rarely clicked: ranking to check",
        ["query", "searches", "click-through", "mean clicked rank"],
        [[s.query, s.searches, ctr(s), s.mean_click_rank] for s in report.rarely_clicked],
    )
    table(
        "Clicked",
        ["query", "clicks", "click-through", "mean clicked rank"],
        [[s.query, s.clicks, ctr(s), s.mean_click_rank] for s in report.clicked_queries],
    )
    table(
        "Slowest",
        ["query", "max ms", "mean ms", "searches"],
        [[s.query, s.max_ms, s.mean_ms, s.searches] for s in report.slowest_queries],
    )
    table(
        "By subject (filter, else the first result's)",
        ["subject", "searches", "no result"],
        [[s.subject, s.searches, s.zero_results] for s in report.subjects],
    )
