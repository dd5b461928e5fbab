"""Searching an index on a cluster: Typesense finds candidates, quicksearch ranks them.

Each query becomes a few Typesense searches in one round trip (the words as typed, each word
form among the pages holding the other words, and counts for the total and subject facets).
The candidates' analysed fields are ranked by :class:`CandidateRanker`: quicksearch's own
model, with the collection-wide frequencies and lengths a build stores beside the pages, so a
page gets the score it would get in the embedded engine.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from quicksearch.analysis import remember_stems
from quicksearch.config import SCHEMA_VERSION, Settings
from quicksearch.engines.base import Rows
from quicksearch.engines.typesense.client import Cluster
from quicksearch.engines.typesense.store import CLUSTER_LAYOUT, page_id, page_rows, read_meta
from quicksearch.errors import IndexNotFoundError, IndexVersionError, QuickSearchError
from quicksearch.expansion import Vocabulary
from quicksearch.fields import EXACT_FIELD, TEXT_FIELDS
from quicksearch.lengths import quantized_lengths
from quicksearch.location import ClusterLocation
from quicksearch.models import IndexStats
from quicksearch.query import Clause
from quicksearch.ranking import Postings, Ranker

__all__ = ["CandidatePostings", "ClusterEngine", "ClusterIndex"]

#: How often a searcher asks which collection the alias points to.
_ALIAS_CHECK_SECONDS = 1.0
#: Candidates per Typesense search (at least the page asked for).
_PER_SEARCH = 40
#: At most this many forms of one word are searched for candidates.
_FORMS_PER_WORD = 4
#: A word being typed: its commonest completions searched one by one, this many candidates each.
_COMPLETIONS_SEARCHED = 4
_PER_COMPLETION = 10
#: Repeated pages looked at per count (beyond: the total is marked inexact).
_REPEATED_PAGES = 250
#: Typesense's largest page.
_MAX_PER_PAGE = 250
#: Count searches per multi_search request (Typesense takes at most 50 by default).
_COUNTS_PER_REQUEST = 40
#: Queries of more words are long questions (as the ranker's ``_STRICT_COVERAGE_UP_TO``).
_STRICT_WORDS = 4
#: Candidates per search of a long query (two searches).
_LONG_PER_SEARCH = 25
#: A long query's candidates come from its rarest words.
_LONG_QUERY_WORDS = 8
_SCORING_FIELDS = "id,qt,kt,at,qe,subject,question_key"
_DISPLAY_FIELDS = "id,url,question,answer,keywords,subject,date,doc_id,source"
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_TF = np.zeros(0, dtype=np.float32)
_FIELD_OF = {"question": "qt", "keywords": "kt", "answer": "at", EXACT_FIELD: "qe"}


class ClusterIndex:
    """An index on a cluster, as the Searcher sees a location (see ``quicksearch.engine``)."""

    def __init__(self, location: ClusterLocation) -> None:
        self.location = location
        self.cluster = Cluster(location)
        self._live: str | None = None
        self._checked = 0.0

    def __str__(self) -> str:
        return str(self.location)

    def signature(self) -> object:
        now = time.monotonic()
        if now - self._checked >= _ALIAS_CHECK_SECONDS:
            # Unreachable: keep serving what we have; the search itself tries every node.
            with contextlib.suppress(QuickSearchError):
                self._live = self.cluster.alias(self.location.collection)
            self._checked = now
        return self._live

    def expire(self) -> None:
        self._checked = 0.0

    def live_name(self) -> str:
        live = self.cluster.alias(self.location.collection)
        self._live, self._checked = live, time.monotonic()
        if live is None:
            raise IndexNotFoundError(
                f"no index at {self.location}",
                hint=f"build one with: quicksearch index SOURCE --index {self.location}",
            )
        return live

    def open(self, settings: Settings) -> ClusterEngine:
        return ClusterEngine(self.cluster, self.location, self.live_name(), settings)


class ClusterEngine:
    """One generation (collection) of an index on a cluster."""

    def __init__(
        self, cluster: Cluster, location: ClusterLocation, name: str, settings: Settings
    ) -> None:
        self.cluster = cluster
        self.location = location
        self.name = name
        self.settings = settings
        alias = location.collection
        stats = read_meta(cluster, alias, name, "stats")
        if stats is None:
            raise IndexVersionError(f"the cluster collection {name} has no quicksearch statistics")
        layout = (stats.get("schema_version"), stats.get("cluster_layout", 1))
        if layout != (SCHEMA_VERSION, CLUSTER_LAYOUT):
            raise IndexVersionError(
                f"the index at {location} has schema version {layout[0]} (cluster layout "
                f"{layout[1]}), this quicksearch reads version {SCHEMA_VERSION} (layout "
                f"{CLUSTER_LAYOUT})",
                hint=f"rebuild it with: quicksearch index SOURCE --index {location}",
            )
        vocabulary = read_meta(cluster, alias, name, "vocabulary") or {}
        self.stats_data = stats
        self.documents = int(stats.get("documents", 0))
        self.repeated = int(stats.get("repeated", 0))
        self.df: dict[str, dict[str, int]] = vocabulary.get("df", {})
        remember_stems(vocabulary.get("stems", {}), vocabulary.get("words", {}))
        self._vocabulary = Vocabulary(vocabulary.get("terms", {}), vocabulary.get("words", {}))
        n = max(1, self.documents)
        self.averages = {
            f: max(1.0, float(stats.get("lengths", {}).get(f, 0)) / n) for f in _FIELD_OF
        }

    @property
    def vocabulary(self) -> Vocabulary:
        return self._vocabulary

    def warm(self) -> None:
        self._vocabulary.prepare()

    def close(self) -> None:
        pass  # connections belong to the ClusterIndex's client

    # -- searching ---------------------------------------------------------------------------

    def run(
        self,
        clauses: list[Clause],
        excluded: list[Clause],
        phrases: Sequence[tuple[str, ...]],
        excluded_phrases: Sequence[tuple[str, ...]],
        subject_keys: list[str],
        start: int,
        count: int,
        collapse: bool,
        settings: Settings,
    ) -> Rows:
        if not self.documents:
            return Rows([], 0, {}, True)
        query = _Query(
            self, clauses, excluded, phrases, subject_keys, start + count, settings, collapse
        )
        found = query.candidates()
        if not found or not query.total:
            return Rows([], query.total, query.facets, query.exact)
        docs = list(found.values())
        source = CandidatePostings(self, docs)
        ranker = Ranker(source, settings)
        ranked = ranker.rank(
            [*clauses, *source.phrase_clauses(phrases)],
            excluded=[*excluded, *source.phrase_clauses(excluded_phrases)],
            start=0,
            count=start + count,
            collapse=collapse,
            settings=settings,
        )
        chosen = ranked.docnums[start : start + count]
        scores = ranked.scores[start : start + count]
        rows = self._display([docs[i]["id"] for i in chosen])
        return Rows(
            [(row, s) for row, s in zip(rows, scores, strict=True)],
            query.total,
            query.facets,
            query.exact,
        )

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        """As ``Ranker.question_counts``: one count search per probe, in parallel batches."""
        anyof = ["qterms:=[" + ",".join(_quote(t) for t in g) + "]" if g else "" for g in groups]
        searches: list[dict[str, Any]] = []
        asked: list[int] = []
        for n, (i, term) in enumerate(probes):
            others = [anyof[j] for j in range(len(groups)) if j != i]
            if all(others):
                where = " && ".join([f"qterms:=[{_quote(term)}]", *others])
                searches.append({"q": "*", "per_page": 0, "filter_by": where})
                asked.append(n)
        counts = [0] * len(probes)
        if searches:
            batches = [
                searches[k : k + _COUNTS_PER_REQUEST]
                for k in range(0, len(searches), _COUNTS_PER_REQUEST)
            ]
            results = self.cluster.parallel_search(self.name, batches, {"query_by": "qt"})
            for n, result in zip(asked, results, strict=True):
                counts[n] = int(result.get("found", 0))
        return counts

    def question_phrase(
        self, words: Sequence[str], subject_keys: list[str], start: int, count: int
    ) -> Rows:
        if not self.documents or count < 1:
            return Rows([], 0, {}, True)
        search: dict[str, Any] = {
            "q": _phrase(tuple(words)),
            "query_by": "qw",
            "num_typos": 0,
            "prefix": "false",
            "drop_tokens_threshold": 0,
            "typo_tokens_threshold": 0,
            "sort_by": "qlen:asc,url:asc",
            "group_by": "question_key",  # a question asked by several pages counts once
            "group_limit": 1,
            "include_fields": "id",
        }
        if subject_keys:
            search["filter_by"] = "subject_key:=[" + ",".join(map(_quote, subject_keys)) + "]"
        # Typesense pages hold at most 250; read the ones that cover [start, start + count).
        size = min(count, _MAX_PER_PAGE) if start % min(count, _MAX_PER_PAGE) == 0 else 1
        ids: list[str] = []
        found = 0
        page = start // size + 1
        while len(ids) < count:
            result = self.cluster.multi_search(
                self.name, [{**search, "per_page": size, "page": page}], {}
            )[0]
            found = int(result.get("found", 0))
            groups = result.get("grouped_hits", [])
            ids += [g["hits"][0]["document"]["id"] for g in groups if g.get("hits")]
            if len(groups) < size or page * size >= found:
                break
            page += 1
        rows = self._display(ids[:count])
        return Rows([(row, 1.0) for row in rows], found, {}, True)

    def _df(self, term: str) -> int:
        return int(self._vocabulary.df.get(term, 0))

    def _display(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        result = self.cluster.multi_search(
            self.name,
            [
                {
                    "q": "*",
                    "filter_by": "id:[" + ",".join(ids) + "]",
                    "per_page": len(ids),
                    "include_fields": _DISPLAY_FIELDS,
                }
            ],
            {},
        )[0]
        by_id = {hit["document"]["id"]: hit["document"] for hit in result.get("hits", [])}
        return list(page_rows([by_id.get(i, {"id": i}) for i in ids]))

    def page(self, url: str) -> dict[str, Any] | None:
        response = self.cluster.request("GET", f"/collections/{self.name}/documents/{page_id(url)}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise QuickSearchError(f"cannot read a page of {self.name}: {response.text[:200]}")
        document = response.json()
        return next(page_rows([document])) if document.get("url") == url else None

    # -- facts -------------------------------------------------------------------------------

    def cache_bytes(self) -> dict[str, int]:
        return {}  # each search's candidate ranker, and its cache, end with the search

    def stats(self) -> IndexStats:
        result = self.cluster.multi_search(
            self.name,
            [{"q": "*", "per_page": 0, "facet_by": "subject", "max_facet_values": 1000}],
            {},
        )[0]
        return IndexStats(
            documents=int(result.get("found", 0)),
            size_bytes=0,
            built_at=str(self.stats_data.get("built_at", "")),
            schema_version=int(self.stats_data.get("schema_version", 0)),
            generation=self.name,
            index_dir=str(self.location),
            subjects=_by_count(_facet_counts(result)),
        )


class _Query:
    """The Typesense searches of one query, in one round trip or two: the pages with every
    word (counted, and the best of them by Typesense's text match), then, only when needed,
    pages holding another form of a word, or (too few pages with every word) any word."""

    def __init__(
        self,
        engine: ClusterEngine,
        clauses: list[Clause],
        excluded: list[Clause],
        phrases: Sequence[tuple[str, ...]],
        subject_keys: list[str],
        wanted: int,
        settings: Settings,
        collapse: bool,
    ) -> None:
        self.engine = engine
        # Pages asking the same question count once: only the repeated ones need a look.
        self.collapse = collapse and engine.repeated > 0
        self.words = [c for c in clauses if c.variants]
        self.phrases = phrases
        self.threshold = settings.partial_match_threshold
        self.per_search = max(_PER_SEARCH, wanted)
        self.wanted = wanted
        exclusions = [f"terms:!=[{_quote(t)}]" for c in excluded for t, _ in c.variants[:1]]
        self.unfiltered = " && ".join(exclusions)
        self.restrict = " && ".join(
            [*(f"subject_key:={_quote(k)}" for k in subject_keys), *exclusions]
        )
        self.filtered = bool(subject_keys)
        self.common = {
            "query_by": "qt,kt,at",
            "query_by_weights": _weights(settings),
            "num_typos": 0,
            "prefix": "false",
            "typo_tokens_threshold": 0,
            "highlight_fields": "none",
        }
        self.total = 0
        self.facets: dict[str, int] = {}
        self.exact = True
        self.found: dict[str, dict[str, Any]] = {}
        self._counts = 0  # how many searches of the round trip count (see _counting)

    # -- the searches ------------------------------------------------------------------------

    def _text(self, q: str, where: str, per_page: int, **more: Any) -> dict[str, Any]:
        search = {"q": q, "per_page": per_page, "include_fields": _SCORING_FIELDS, **more}
        if where:
            search["filter_by"] = where
        return search

    @staticmethod
    def _paged(searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Searches for more candidates than Typesense gives in one page (250), as pages."""
        out = []
        for search in searches:
            wanted = int(search.get("per_page", 0))
            if wanted <= _MAX_PER_PAGE:
                out.append(search)
                continue
            pages = -(-wanted // _MAX_PER_PAGE)
            out += [{**search, "per_page": _MAX_PER_PAGE, "page": p} for p in range(1, pages + 1)]
        return out

    def _count(self, q: str, where: str, facets: bool) -> dict[str, Any]:
        search: dict[str, Any] = {"q": q, "per_page": 0, "include_fields": "id"}
        if where:
            search["filter_by"] = where
        if facets:
            search["facet_by"] = "subject"
            search["max_facet_values"] = 1000
        return search

    def _run(self, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The counts in one request, the searches for candidates in others, all at once: the
        # nodes (and cores) work in parallel.
        groups = [searches[: self._counts]] if self._counts else []
        rest = self._paged(searches[self._counts :])
        if rest:
            half = (len(rest) + 1) // 2
            groups += [g for g in (rest[:half], rest[half:]) if g]
        results = self.engine.cluster.parallel_search(self.engine.name, groups, self.common)
        for i, result in enumerate(results):
            if i >= self._counts:  # a search for candidates
                for hit in result.get("hits", []):
                    self.found.setdefault(hit["document"]["id"], hit["document"])
        return results

    def _counting(self, q: str, matched: str) -> list[dict[str, Any]]:
        """The counts of one round trip, first in it: the total (under the subject filter),
        the facets (without it), and the repeated questions among both."""
        searches = [self._count(q, self._both(matched, self.restrict), not self.filtered)]
        if self.filtered:
            searches.append(self._count(q, self._both(matched, self.unfiltered), True))
        if self.collapse:
            for where in [self.restrict, *([self.unfiltered] if self.filtered else [])]:
                search = self._count(q, self._both(matched, where, "repeated:=true"), False)
                search["per_page"] = _REPEATED_PAGES
                search["include_fields"] = "subject,question_key"
                searches.append(search)
        self._counts = len(searches)
        return searches

    def _counted(self, results: list[dict[str, Any]]) -> int:
        """Read what :meth:`_counting` asked (its answers, in order); returns the unfiltered
        count of pages (each page, as the embedded engine's threshold counts them)."""
        self.exact = True
        total, facets = results[0], results[1] if self.filtered else results[0]
        self.total = int(total.get("found", 0))
        counts = _facet_counts(facets)
        pages = int(facets.get("found", 0))
        if self.collapse:
            repeats = results[2 if self.filtered else 1 :]
            in_total, in_facets = repeats[0], repeats[-1]
            self.total -= _surplus(in_total, by_subject=False).get("", 0)
            by_subject = _surplus(in_facets, by_subject=True)
            for subject, surplus in by_subject.items():
                if subject in counts:
                    counts[subject] -= surplus
            if any(int(r.get("found", 0)) > _REPEATED_PAGES for r in repeats):
                self.exact = False  # more repeated pages than were looked at
        self.facets = _by_count({k: v for k, v in counts.items() if v > 0})
        return pages

    def _forms(self, clause: Clause) -> list[str]:
        """A word's forms, those that find the best pages first: by weight times the log of
        their document frequency (a completion most pages use beats a rare exact form)."""
        df = self.engine._df
        ordered = sorted(clause.variants, key=lambda v: -v[1] * math.log1p(df(v[0])))
        return [t for t, _ in ordered]

    def _best(self, clause: Clause) -> str:
        return self._forms(clause)[0]

    def _both(self, *parts: str) -> str:
        return " && ".join(p for p in parts if p)

    # -- plans -------------------------------------------------------------------------------

    def candidates(self) -> dict[str, dict[str, Any]]:
        if len(self.words) > _STRICT_WORDS:
            return self._long()
        quoted = " ".join(_phrase(p) for p in self.phrases)
        best = [self._best(c) for c in self.words]
        q = " ".join(filter(None, [*best, quoted])) or "*"
        every = self._both(*(_any_of(c) for c in self.words))
        count_q = quoted or "*"
        searches = [
            *self._counting(count_q, every),
            self._text(q, self._both(every, self.restrict), self.per_search),
        ]
        half = self.per_search // 2
        if len(self.words) > 1:  # the question counts most: pages with the words there
            searches.append(
                self._text(
                    q, self._both(every, self.restrict), half, query_by="qt", query_by_weights="1"
                )
            )
        for i, clause in enumerate(self.words):
            forms = self._forms(clause)
            if len(forms) < 2:
                continue
            if i == len(self.words) - 1 and clause.word and not quoted:
                # A word still being typed: Typesense's own prefix search, and the commonest
                # completions one by one (Typesense expands a prefix to a few words only).
                text = " ".join([*best[:i], clause.word])
                searches.append(
                    self._text(
                        text,
                        self._both(every, self.restrict),
                        self.per_search,
                        prefix="true",
                        max_candidates=8,
                    )
                )
                for form in forms[1 : 1 + _COMPLETIONS_SEARCHED]:
                    text = " ".join([*best[:i], form])
                    searches.append(
                        self._text(text, self._both(every, self.restrict), _PER_COMPLETION)
                    )
            else:  # a corrected word: its second form too
                text = " ".join(filter(None, [*best[:i], forms[1], *best[i + 1 :], quoted]))
                searches.append(self._text(text, self._both(every, self.restrict), half))
        results = self._run(searches)
        matched_anywhere = self._counted(results[: self._counts])
        later: list[dict[str, Any]] = []
        matched = every
        if len(self.words) > 1 and matched_anywhere < self.threshold:
            # Too few pages have every word: pages with some of them rank too.
            matched = any_word = _any_of(
                Clause(tuple(v for c in self.words for v in c.variants))
            )
            later = [
                *self._counting(count_q, any_word),
                self._text(
                    q, self.restrict, self.per_search, drop_tokens_threshold=self.per_search
                ),
            ]
            for term in best:
                later.append(self._text(term, self.restrict, self.per_search // 2))
            results = self._run(later)
            self._counted(results[: self._counts])
        elif self.total > len(self.found) and len(self.found) < self.per_search:
            # Some pages hold a word only in another form (a completion, a correction).
            for i, clause in enumerate(self.words):
                for term in self._forms(clause)[2 : 2 + _FORMS_PER_WORD]:
                    text = " ".join(filter(None, [*best[:i], term, *best[i + 1 :], quoted]))
                    later.append(
                        self._text(text, self._both(every, self.restrict), self.per_search // 2)
                    )
            if later:
                self._counts = 0
                self._run(later)
        self._deep(matched)
        return self.found

    def _deep(self, matched: str) -> None:
        """A window deeper than the text searches reach: the pages the total counts, in any
        order, as deep as the window (all of them whenever the total fits in it)."""
        if self.wanted > _PER_SEARCH and len(self.found) < self.total:
            self._counts = 0
            self._run([self._text("*", self._both(matched, self.restrict), self.wanted)])

    def _long(self) -> dict[str, dict[str, Any]]:
        """A long question: candidates from its rarest words, with words dropped while few
        pages hold them all; the total counts the pages with any of those words, unless at
        least the threshold of pages hold every word (as the embedded engine counts)."""
        df = self.engine._df
        weight: dict[str, float] = {}
        for clause in self.words:
            term = self._best(clause)
            weight[term] = max(weight.get(term, 0.0), clause.weight)
        best = list(weight)
        # The rarest words, a heavier word (written twice; a question word of a page whose
        # related pages are asked for) counting as a rarer one.
        rarest = sorted(best, key=lambda t: df(t) / weight[t] ** 2)[:_LONG_QUERY_WORDS]
        any_word = "terms:[" + ",".join(_quote(t) for t in rarest) + "]"
        # Two searches, of every other of those words: a word the pages lack (a summary's
        # "explains", "article") then blocks only one of them; Typesense drops words from the
        # right, so the rarest come first.
        k = max(_LONG_PER_SEARCH, self.per_search // 2)
        every = self._both(*(_any_of(c) for c in self.words))
        count_every = self._counting("*", every)
        count_any = self._counting("*", any_word)
        self._counts = len(count_every) + len(count_any)
        searches = [
            *count_every,
            *count_any,
            self._text(" ".join(rarest[0::2]), self.restrict, k, drop_tokens_threshold=k),
            self._text(" ".join(rarest[1::2]), self.restrict, k, drop_tokens_threshold=k),
            self._text(" ".join(best), self._both(every, self.restrict), k),
        ]
        if max(weight.values(), default=1.0) > 1.0:  # the heaviest words on their own too
            heaviest = sorted(best, key=lambda t: (-weight[t], df(t)))[:4]
            searches.append(
                self._text(" ".join(heaviest), self.restrict, k, drop_tokens_threshold=k)
            )
        results = self._run(searches)
        if self._counted(results[: len(count_every)]) >= self.threshold:
            self._deep(every)
            return self.found
        self._counted(results[len(count_every) : self._counts])
        self.exact = self.exact and len(best) <= len(rarest)
        self._deep(any_word)
        return self.found


class CandidatePostings:
    """The pages a query's searches fetched from the cluster, as a :class:`PostingSource`:
    postings counted in their texts, statistics (document frequencies, average lengths, page
    count) those of the whole collection."""

    def __init__(self, engine: ClusterEngine, docs: list[dict[str, Any]]) -> None:
        self.size = len(docs)
        self.live = np.ones(self.size, dtype=bool)
        self._texts = {
            field: [f" {d.get(key, '')} " for d in docs] for field, key in _FIELD_OF.items()
        }
        self.lengths = {
            field: quantized_lengths(np.array([len(t.split()) for t in texts]))
            for field, texts in self._texts.items()
        }
        self.subjects = [d.get("subject", "") for d in docs]
        self.question_keys = [d.get("question_key", "") for d in docs]
        self.averages = engine.averages
        self.documents = engine.documents
        self._global_df = engine.df
        self._vocabulary_df = engine.vocabulary.df

    def read(self, field: str, terms: Sequence[str]) -> list[Postings | None]:
        out: list[Postings | None] = []
        for term in terms:
            needle = f" {term} "
            counts = np.array([t.count(needle) for t in self._texts[field]], dtype=np.float32)
            ids = np.flatnonzero(counts).astype(np.int32)
            df = int(self._global_df.get(field, {}).get(term, 0))
            if not len(ids):
                out.append(Postings(_EMPTY_IDS, _EMPTY_TF, 0.0, 0.0, df) if df else None)
                continue
            tf = counts[ids]
            shortest = float(self.lengths[field][ids].min())
            out.append(Postings(ids, tf, float(tf.max()), shortest, max(df, 1)))
        return out

    def clause_count(self, terms: Sequence[str]) -> int | None:
        # The collection-wide pages of a clause: its commonest form's, a lower bound.
        return max((int(self._vocabulary_df.get(t, 0)) for t in terms), default=0)

    def question_df(self, term: str) -> int | None:
        return int(self._global_df.get("question", {}).get(term, 0))

    def question_terms(self, docnum: int) -> str:
        return self._texts["question"][docnum].strip()

    def phrase_clauses(self, phrases: Sequence[tuple[str, ...]]) -> list[Clause]:
        """Phrase clauses over the candidates: the words side by side in one field."""
        out = []
        for words in phrases:
            needle = " " + " ".join(words) + " "
            docs = [
                i for i in range(self.size) if any(needle in self._texts[f][i] for f in TEXT_FIELDS)
            ]
            out.append(
                Clause(
                    tuple((w, 1.0) for w in words), docs=np.array(docs, dtype=np.int64), phrase=True
                )
            )
        return out


def _facet_counts(result: dict[str, Any]) -> dict[str, int]:
    """Subject -> count, from a result faceted by subject."""
    return {
        str(item["value"]): int(item["count"])
        for facet in result.get("facet_counts", [])
        for item in facet.get("counts", [])
        if item.get("value")
    }


def _by_count(counts: dict[str, int]) -> dict[str, int]:
    """Most first, then by name (as the embedded engine orders facets)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _surplus(result: dict[str, Any], *, by_subject: bool) -> dict[str, int]:
    """Pages beyond the first of each question among repeated pages: per subject, or all
    under ``""``."""
    pages: dict[str, int] = {}
    questions: dict[str, set[str]] = {}
    for hit in result.get("hits", []):
        doc = hit["document"]
        where = str(doc.get("subject", "")) if by_subject else ""
        pages[where] = pages.get(where, 0) + 1
        questions.setdefault(where, set()).add(str(doc.get("question_key", "")))
    return {k: pages[k] - len(questions[k]) for k in pages}


def _weights(settings: Settings) -> str:
    boosts = settings.field_boosts
    # Typesense takes whole-number weights; only their order and ratio matter for candidates.
    return ",".join(str(max(1, round(boosts[f] * 2))) for f in TEXT_FIELDS)


def _quote(value: str) -> str:
    return "`" + value.replace("`", "") + "`"


def _any_of(clause: Clause) -> str:
    return "terms:[" + ",".join(_quote(t) for t, _ in clause.variants) + "]"


def _phrase(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words) + '"'
