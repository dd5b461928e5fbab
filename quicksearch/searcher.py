"""Open an index and search it: ranked, filtered, paginated hits with snippets and facets."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from quicksearch.analysis import STOP_WORDS, fold_word, load_stemmer, plain_words, stem
from quicksearch.caches import configure_word_caches, word_cache_bytes
from quicksearch.cleaning import canonical_subject
from quicksearch.config import DEFAULT_SETTINGS, Settings
from quicksearch.engines import open_location
from quicksearch.engines.base import Engine, GenerationGoneError, Location, Rows
from quicksearch.errors import (
    IndexVersionError,
    InvalidArgumentError,
    PageNotFoundError,
    QuickSearchError,
)
from quicksearch.expansion import CONTEXT_MAX_WORDS, Expansion, expand_word, in_context
from quicksearch.fields import question_key, subject_key
from quicksearch.location import parse_location
from quicksearch.models import Completions, Hit, IndexStats, SearchResults
from quicksearch.query import Clause, ParsedQuery, parse_query, searchable_text
from quicksearch.related import POOL, like_clauses, prefer_subject
from quicksearch.snippets import highlight, make_snippet
from quicksearch.synonyms import SYNONYM_WEIGHT, synonym_map

if TYPE_CHECKING:
    from quicksearch.learning import Learned, Preference

__all__ = ["Searcher", "open_index"]

_log = logging.getLogger("quicksearch")

_T = TypeVar("_T")

#: Results asked for beyond ``limit`` in related(): the page itself and its twins drop out.
_RELATED_EXTRA = 6
#: related_to() reads this much of the text.
_RELATED_TEXT_CHARS = 20_000

#: The word a query ends in (no trailing space): the one a person is still typing.
_LAST_WORD = re.compile(r"\w+(?:['’]\w+)*$")


class Searcher:
    """A handle on an index for searching; keep one per app and share it between threads.

    ``index_dir`` is a folder or a cluster location (``typesense://HOST:PORT,.../NAME``). It
    follows the live generation: after a rebuild, the next search (or :meth:`refresh`)
    switches to the new index. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str] = "index_data",
        *,
        settings: Settings = DEFAULT_SETTINGS,
        learned: str | os.PathLike[str] | Learned | None = None,
    ) -> None:
        parsed = parse_location(index_dir)
        #: Preferences learned from visitors' clicks (``quicksearch learn``), or None.
        self.learned: Learned | None = None
        if learned is not None:
            from quicksearch.learning import Learned, load_learned  # only when asked for

            self.learned = learned if isinstance(learned, Learned) else load_learned(learned)
        #: The folder, or the cluster location as text.
        self.index_dir: Path | str = parsed if isinstance(parsed, Path) else str(parsed)
        self._location: Location = open_location(parsed)
        self.settings = settings
        configure_word_caches(settings.cache_bytes)
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._open_attempts = 0  # generations this handle tried to switch to
        self._signature = self._location.signature()
        self._engine: Engine | None = self._open_live()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Searcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the index files. Further searches raise :class:`QuickSearchError`."""
        with self._lock:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

    @property
    def closed(self) -> bool:
        return self._engine is None

    @property
    def generation(self) -> str:
        """Name of the index generation that answers searches now."""
        with self._lock:
            return self._require_engine().name

    def refresh(self) -> bool:
        """Switch to the live generation if a rebuild replaced it; return True if it did.

        The new generation is opened and warmed once, by the first caller that sees it. A
        caller that sees it while another thread is opening it waits for that thread rather
        than answer from the old one: a search that starts after a rebuild has finished always
        reads the new index.
        """
        signature = self._location.signature()
        with self._lock:
            self._require_engine()
            if signature == self._signature:
                return False
            attempts = self._open_attempts
        with self._refresh_lock:
            with self._lock:
                engine = self._require_engine()
                if signature == self._signature:
                    return False  # the thread we waited for has switched already
                if attempts != self._open_attempts:
                    return False  # it failed for the thread we waited for; the next call retries
            if self._location.live_name() == engine.name:
                with self._lock:
                    self._signature = signature
                return False
            try:
                self._open_attempts += 1
                fresh = self._open_live()
                fresh.warm()
            except QuickSearchError as exc:
                # Keep serving the generation we have; the next call tries again.
                _log.warning("cannot switch to the new index generation: %s", exc)
                return False
            with self._lock:
                old = self._require_engine()
                self._engine, self._signature = fresh, signature
                old.close()
            return True

    def cache_sizes(self) -> dict[str, int]:
        """Bytes, about, that each cache filled by queries holds now: ``words`` (the analysis
        chain's, shared by the process), and the engine's (``postings``, ``counts``). Together
        they stay within ``Settings.cache_bytes``."""
        with self._lock:
            engine = self._require_engine().cache_bytes()
        return {"words": word_cache_bytes(), **engine}

    def warm(self) -> None:
        """Load now what the first search would load (a server calls this before serving)."""
        load_stemmer()
        with self._lock:
            self._require_engine().warm()
        self.search("warm up", limit=1)  # opens the vocabulary and the postings it reads
        # A long query too: it scores with other field weights (their length norms).
        self.search("warm up the search index with a long question", limit=1)

    def _open_live(self, attempts: int = 3) -> Engine:
        # A writer may switch and prune generations between our reading which one is live and
        # opening it; if the live one moved meanwhile, read it again.
        for attempt in range(attempts):
            before = self._location.signature()
            try:
                return self._location.open(self.settings)
            except IndexVersionError:
                if attempt == attempts - 1 or self._location.signature() == before:
                    raise
        raise AssertionError("unreachable")

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise QuickSearchError("this Searcher is closed", hint="open the index again")
        return self._engine

    def _on_live(self, work: Callable[[Engine], _T]) -> _T:
        """``work(engine)`` under the lock; when the engine's generation was dropped under it
        (a cluster rebuild pruned it), switch to the live one and do the work once more."""
        for attempt in range(2):
            with self._lock:
                engine = self._require_engine()
                try:
                    return work(engine)
                except GenerationGoneError:
                    if attempt:
                        raise
            self._location.expire()
            self.refresh()
        raise AssertionError("unreachable")

    # -- searching ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        page: int = 1,
        subject: str | None = None,
        collapse_duplicates: bool = True,
        boosts: Mapping[str, float] | None = None,
    ) -> SearchResults:
        """Search for ``query`` and return one page of ranked hits.

        Pages with all the words come first; when they are fewer than ``limit``, pages with
        some of the words follow, so pasted questions still find something. Pages that ask the
        same question are shown once (the best of them) unless ``collapse_duplicates=False``.
        ``boosts`` overrides the field weights for this query (``{"question": 5, "answer": 1}``).
        Never raises on the query text itself.
        """
        self._check_limit(limit)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise InvalidArgumentError("page must be an integer of at least 1")
        settings = _with_boosts(self.settings, boosts)
        self.refresh()
        with self._lock:
            _ = self._require_engine().vocabulary  # its stems spare most queries the stemmer
        parsed = parse_query(
            query,
            max_chars=self.settings.max_query_chars,
            max_terms=self.settings.max_query_terms,
            long_query_words=settings.long_query_words,
        )
        subjects = list(parsed.subjects)
        if subject:
            subjects.append(canonical_subject(subject))
        stop_words = _only_stop_words(parsed)
        if stop_words:
            return self._stop_word_search(parsed, stop_words, subjects, limit, page)
        if parsed.is_empty and not subjects:
            return SearchResults(query=parsed.text, hits=[], total=0, page=page, limit=limit)
        if parsed.long:
            settings = _for_long_query(settings, keep_field_boosts=bool(boosts))
        preference = self.learned.preference(query) if self.learned is not None else None

        def work(engine: Engine) -> tuple[ParsedQuery, list[Expansion], Rows]:
            query = _with_trailing_stop(parsed, engine)
            expansions = [
                expand_word(t, w, engine.vocabulary, is_prefix=w == query.prefix)
                for t, w in zip(query.terms, query.words, strict=True)
            ]
            if not query.long and not query.alternatives:
                expansions = in_context(
                    expansions,
                    query.words,
                    engine.question_counts,
                    engine.vocabulary,
                    query.prefix,
                )
            synonyms = synonym_map(settings.synonyms)
            expansions = [
                _with_synonyms(e, synonyms.get(t, ()))
                for e, t in zip(expansions, query.terms, strict=True)
            ]
            found = self._run(
                engine,
                query,
                expansions,
                subjects,
                limit,
                page,
                settings,
                collapse_duplicates,
                preference,
            )
            return query, expansions, found

        parsed, expansions, (rows, total, facets, exact) = self._on_live(work)
        terms = parsed.highlight_terms | {t for e in expansions for t, _ in e.variants}
        hits = [self._hit(row, score, terms) for row, score in rows]
        return SearchResults(
            query=parsed.text,
            hits=hits,
            total=total,
            page=page,
            limit=limit,
            facets=facets,
            suggestion=_suggestion(parsed, expansions) if total else None,
            total_is_exact=exact,
        )

    def _stop_word_search(
        self, parsed: ParsedQuery, words: list[str], subjects: list[str], limit: int, page: int
    ) -> SearchResults:
        """A query of stop words only ("what is it"): the questions that hold it as a phrase."""
        keys = list(dict.fromkeys(subject_key(s) for s in subjects))
        rows, total, _, _ = self._on_live(
            lambda engine: engine.question_phrase(words, keys, (page - 1) * limit, limit)
        )
        hits = [self._hit(row, score, frozenset()) for row, score in rows]
        return SearchResults(query=parsed.text, hits=hits, total=total, page=page, limit=limit)

    def _run(
        self,
        engine: Engine,
        parsed: ParsedQuery,
        expansions: list[Expansion],
        subjects: list[str],
        limit: int,
        page: int,
        settings: Settings,
        collapse: bool,
        preference: Preference | None = None,
    ) -> Rows:
        start = (page - 1) * limit
        # A learned preference moves a page up a few places: rank the pages that could move
        # into the window, reorder, then cut the window (nothing else changes).
        deeper = preference.max_move if preference is not None else 0
        rows = engine.run(
            _clauses(parsed, expansions),
            [Clause(((t, 1.0),)) for t in parsed.excluded_terms],
            parsed.phrases,
            parsed.excluded_phrases,
            list(dict.fromkeys(subject_key(s) for s in subjects)),
            start if preference is None else 0,
            limit if preference is None else start + limit + deeper,
            collapse,
            settings,
        )
        if preference is None:
            return rows
        urls = [str(row.get("url", "")) for row, _ in rows.rows]
        order = preference.reorder(urls, [score for _, score in rows.rows])
        return rows._replace(rows=[rows.rows[i] for i in order][start : start + limit])

    def _hit(self, row: dict[str, Any], score: float, terms: frozenset[str]) -> Hit:
        question = row.get("question", "")
        settings = self.settings
        snippet = make_snippet(
            row.get("answer", ""),
            terms,
            tags=settings.highlight_tags,
            target_chars=settings.snippet_target_chars,
            max_chars=settings.snippet_max_chars,
        )
        title = highlight(question, terms, tags=settings.highlight_tags)
        stored_date = row.get("date")
        return Hit(
            url=row["url"],
            title=question,
            subject=row.get("subject", ""),
            date=stored_date.date() if isinstance(stored_date, dt.datetime) else None,
            score=float(score or 0.0),
            snippet=snippet.html,
            title_html=title.html,
            snippet_text=snippet.text,
            snippet_spans=snippet.spans,
            title_spans=title.spans,
        )

    def has_page(self, url: str) -> bool:
        """Whether a page with this url is searchable (indexed and not ``no_index``)."""
        self.refresh()
        return self._on_live(lambda engine: engine.page(url)) is not None

    def related(self, url: str, *, limit: int = 5, subject: str | None = None) -> list[Hit]:
        """The pages most like the page at ``url``, best first: never that page, nor pages
        asking its question. Content only (question, keywords, answer); ``subject`` keeps the
        candidates to one subject. Raises :class:`PageNotFoundError` for an unknown url."""
        self._check_limit(limit)
        self.refresh()
        row = self._on_live(lambda engine: engine.page(url))
        if row is None:
            raise PageNotFoundError(f"no page with url {url!r} in the index")
        keywords = str(row.get("keywords") or "")
        question = str(row.get("question") or "")
        return self._like(question, keywords, str(row.get("answer") or ""), limit, subject, row)

    def related_to(self, text: str, *, limit: int = 5, subject: str | None = None) -> list[Hit]:
        """The pages most like ``text`` (a draft question and answer, say: is it already
        answered?), best first."""
        self._check_limit(limit)
        text = text if isinstance(text, str) else ""
        self.refresh()
        return self._like(text[:_RELATED_TEXT_CHARS], "", "", limit, subject, None)

    def _check_limit(self, limit: int) -> None:
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= self.settings.max_limit
        ):
            raise InvalidArgumentError(
                f"limit must be an integer from 1 to {self.settings.max_limit}"
            )

    def _like(
        self,
        question: str,
        keywords: str,
        answer: str,
        limit: int,
        subject: str | None,
        page: dict[str, Any] | None,
    ) -> list[Hit]:
        settings = _for_long_query(self.settings, keep_field_boosts=False)
        subjects = [subject_key(canonical_subject(subject))] if subject else []

        def work(engine: Engine) -> tuple[list[Clause], list[tuple[dict[str, Any], float]]]:
            clauses = like_clauses(question, keywords, answer, engine.vocabulary)
            if not clauses:
                return [], []
            wanted = limit + _RELATED_EXTRA + (POOL if page and not subjects else 0)
            return clauses, engine.run(
                clauses, [], (), (), subjects, 0, wanted, True, settings
            ).rows

        clauses, rows = self._on_live(work)
        own_url = page.get("url") if page else None
        own_question = question_key(question) if page else None
        rows = [
            (row, score)
            for row, score in rows
            if row.get("url") != own_url and question_key(row.get("question", "")) != own_question
        ]
        if page and not subjects:
            rows = prefer_subject(rows, str(page.get("subject") or ""))
        terms = frozenset(t for c in clauses for t, _ in c.variants)
        return [self._hit(row, score, terms) for row, score in rows[:limit]]

    def complete(self, query: str, *, limit: int = 8) -> Completions:
        """Completions of the query's last word (when the query ends in one), most frequent
        first: the words as written in the pages, for an autocomplete list."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidArgumentError("limit must be an integer from 1 to 100")
        text = searchable_text(
            query if isinstance(query, str) else "", self.settings.max_query_chars
        )
        match = _LAST_WORD.search(text)
        if match is None:
            return Completions(query=text, prefix="")
        prefix = fold_word(match.group())
        self.refresh()
        with self._lock:
            words = self._require_engine().vocabulary.completions(prefix, limit)
        head = text[: match.start()]
        queries = [head + word for word in words]
        if self.learned is not None:
            # Whole queries visitors searched often (and clicked a result of) come first.
            popular = self.learned.completions(text, limit)
            queries = list(dict.fromkeys([*popular, *queries]))[:limit]
        return Completions(
            query=text,
            prefix=prefix,
            words=tuple(words),
            queries=tuple(queries),
        )

    # -- facts -------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        """Document count, size, build time, schema version and per-subject counts."""
        self.refresh()
        return self._on_live(lambda engine: engine.stats())


def _with_synonyms(expansion: Expansion, synonyms: Iterable[str]) -> Expansion:
    if not synonyms:
        return expansion
    variants = dict(expansion.variants)
    for term in synonyms:
        variants.setdefault(term, SYNONYM_WEIGHT)
    return dataclasses.replace(expansion, variants=tuple(variants.items()))


def _with_trailing_stop(parsed: ParsedQuery, engine: Engine) -> ParsedQuery:
    """``parsed`` with its trailing stop word ("applications the") back as a word being typed,
    when a question holds one of its completions beside the other words; else as it was."""
    word = parsed.trailing_stop
    if not word or parsed.alternatives or len(parsed.terms) >= CONTEXT_MAX_WORDS:
        return parsed
    vocabulary = engine.vocabulary
    completed = {stem(c) for c in vocabulary.completions(word) if c != word and c not in STOP_WORDS}
    stems = [t for t in completed if vocabulary.df.get(t)]
    if not stems:
        return parsed
    groups = [[t] for t in parsed.terms] + [stems]
    last = len(groups) - 1
    if not any(engine.question_counts(groups, [(last, t) for t in stems])):
        return parsed
    return dataclasses.replace(
        parsed,
        terms=(*parsed.terms, word),
        words=(*parsed.words, word),
        counts=(*parsed.counts, 1),
        prefix=word,
        trailing_stop=None,
    )


#: A stop-word query longer than this is not searched (no question holds it as a phrase).
_MAX_STOP_WORDS = 8


def _only_stop_words(parsed: ParsedQuery) -> list[str]:
    """The words of a query made of stop words only (no term, phrase or exclusion), else []."""
    if not parsed.is_empty or parsed.excluded_terms or parsed.excluded_phrases:
        return []
    words = plain_words(parsed.text)
    if not words or len(words) > _MAX_STOP_WORDS or not all(w in STOP_WORDS for w in words):
        return []
    return words


def _clauses(parsed: ParsedQuery, expansions: list[Expansion]) -> list[Clause]:
    """One clause per query word, or per run of words joined by OR; in a long query, a word
    written n times weighs n times (as in BM25 with query term frequencies)."""
    grouped = {i for run in parsed.alternatives for i in run}
    runs = [*parsed.alternatives, *((i,) for i in range(len(parsed.terms)) if i not in grouped)]
    clauses = []
    for run in sorted(runs):
        variants: dict[str, float] = {}
        for i in run:
            for term, weight in expansions[i].variants:
                variants[term] = max(weight, variants.get(term, 0.0))
        word = None
        if len(run) == 1:
            typed = expansions[run[0]].word
            word = parsed.words[run[0]] if typed is None else typed
        weight = float(max(parsed.counts[i] for i in run)) if parsed.long else 1.0
        shared = len(run) == 1 and expansions[run[0]].shared_idf
        clauses.append(Clause(tuple(variants.items()), word=word, weight=weight, shared_idf=shared))
    return clauses


def _with_boosts(settings: Settings, boosts: Mapping[str, float] | None) -> Settings:
    if not boosts:
        return settings
    unknown = set(boosts) - {"question", "keywords", "answer"}
    if unknown:
        raise InvalidArgumentError(
            f"unknown field in boosts: {', '.join(sorted(unknown))}",
            hint="boost question, keywords or answer",
        )
    values = {f"{field}_boost": float(value) for field, value in boosts.items()}
    if any(not 0 <= v <= 1000 for v in values.values()):
        raise InvalidArgumentError("boosts must be between 0 and 1000")
    return dataclasses.replace(settings, **values)


def _for_long_query(settings: Settings, *, keep_field_boosts: bool) -> Settings:
    """Plain BM25 over the fields for a long query (see ``Settings.long_query_words``)."""
    flat = (
        {}
        if keep_field_boosts
        else {"question_boost": 1.0, "keywords_boost": 1.0, "answer_boost": 1.0}
    )
    return dataclasses.replace(
        settings,
        exact_boost=0.0,
        pairs_boost=0.0,
        question_cover_bonus=0.0,
        question_order_bonus=0.0,
        question_b=settings.bm25_b,
        **flat,
    )


def _suggestion(parsed: ParsedQuery, expansions: list[Expansion]) -> str | None:
    """The query with each word that looked like a typo replaced by its correction."""
    text, changed = parsed.text, False
    for word, expansion in zip(parsed.words, expansions, strict=True):
        if expansion.correction and expansion.correction != word:
            pattern = rf"(?i)(?<!\w){re.escape(word)}(?!\w)"
            text, n = re.subn(pattern, expansion.correction, text, count=1)
            changed = changed or bool(n)
    return text.strip() if changed else None


def open_index(
    index_dir: str | os.PathLike[str] = "index_data",
    *,
    settings: Settings = DEFAULT_SETTINGS,
    learned: str | os.PathLike[str] | Learned | None = None,
) -> Searcher:
    """Open the index in ``index_dir`` for searching (raises :class:`IndexNotFoundError`).
    ``learned``: a file of ``quicksearch learn`` whose preferences reorder results."""
    return Searcher(index_dir, settings=settings, learned=learned)
