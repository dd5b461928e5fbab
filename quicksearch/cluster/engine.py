"""Searching an index on a cluster: Typesense finds candidates, quicksearch ranks them.

Each query becomes a few Typesense searches in one round trip (the words as typed, each word
form among the pages holding the other words, and counts for the total and subject facets).
The candidates' analysed fields are ranked by :class:`CandidateRanker`: quicksearch's own
model, with the collection-wide frequencies and lengths a build stores beside the pages, so a
page gets the score it would get in the embedded engine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis import remember_stems
from ..config import SCHEMA_VERSION, Settings
from ..engine import Rows
from ..errors import IndexNotFoundError, IndexVersionError, QuickSearchError
from ..expansion import Vocabulary
from ..location import ClusterLocation
from ..models import IndexStats
from ..ranking import _EMPTY_IDS, _EMPTY_TF, Clause, Ranker, _Entry, quantized_lengths
from ..schema import EXACT_FIELD, TEXT_FIELDS
from .client import Cluster
from .store import page_rows, read_meta

__all__ = ["CandidateRanker", "ClusterEngine", "ClusterIndex"]

#: How often a searcher asks which collection the alias points to.
_ALIAS_CHECK_SECONDS = 1.0
#: Candidates per Typesense search (at least the page asked for).
_PER_SEARCH = 40
#: At most this many forms of one word are searched for candidates.
_FORMS_PER_WORD = 4
#: A long query's candidates come from its rarest words.
_LONG_QUERY_WORDS = 8
_SCORING_FIELDS = "id,qt,kt,at,qe,subject,question_key"
_DISPLAY_FIELDS = "id,url,question,answer,keywords,subject,date,doc_id,source"
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
        if stats.get("schema_version") != SCHEMA_VERSION:
            raise IndexVersionError(
                f"the index at {location} has schema version {stats.get('schema_version')}, "
                f"this quicksearch reads version {SCHEMA_VERSION}",
                hint=f"rebuild it with: quicksearch index SOURCE --index {location}",
            )
        vocabulary = read_meta(cluster, alias, name, "vocabulary") or {}
        self.stats_data = stats
        self.documents = int(stats.get("documents", 0))
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
        filters = [f"subject_key:={_quote(k)}" for k in subject_keys]
        filters += [f"terms:!=[{_quote(t)}]" for c in excluded for t, _ in c.variants[:1]]
        restrict = " && ".join(filters)
        wanted = start + count
        per_search = max(_PER_SEARCH, wanted)
        common = {
            "query_by": "qt,kt,at",
            "query_by_weights": _weights(settings),
            "num_typos": 0,
            "prefix": "false",
            "typo_tokens_threshold": 0,
            "highlight_fields": "none",
        }
        words = [c for c in clauses if c.variants]
        searches = self._candidate_searches(words, phrases, restrict, per_search)
        counting = self._counting_searches(words, phrases, restrict, subject_keys, collapse)
        results = self.cluster.multi_search(self.name, searches + counting, common)
        found: dict[str, dict[str, Any]] = {}
        for result in results[: len(searches)]:
            for hit in result.get("hits", []):
                found.setdefault(hit["document"]["id"], hit["document"])
        total, facets, exact = self._counts(results[len(searches) :], count, len(words))
        if not found or not total:
            return Rows([], total, facets, exact)
        docs = list(found.values())
        ranker = CandidateRanker(self, docs, settings)
        local = ranker.phrase_clauses(phrases)
        local_excluded = [*excluded, *ranker.phrase_clauses(excluded_phrases)]
        ranked = ranker.rank(
            [*clauses, *local],
            excluded=local_excluded,
            start=0,
            count=wanted,
            collapse=collapse,
            settings=settings,
        )
        chosen = ranked.docnums[start:wanted]
        scores = ranked.scores[start:wanted]
        rows = self._display([docs[i]["id"] for i in chosen])
        return Rows(
            [(row, s) for row, s in zip(rows, scores, strict=True)],
            total,
            facets,
            exact,
        )

    def _candidate_searches(
        self,
        words: list[Clause],
        phrases: Sequence[tuple[str, ...]],
        restrict: str,
        per_search: int,
    ) -> list[dict[str, Any]]:
        base = {"per_page": per_search, "include_fields": _SCORING_FIELDS}

        def search(q: str, extra: str = "", **more: Any) -> dict[str, Any]:
            where = " && ".join(x for x in (restrict, extra) if x)
            return {**base, "q": q, **({"filter_by": where} if where else {}), **more}

        searches = [search(_phrase(p)) for p in phrases]
        if not words:
            return searches or [search("*")]
        firsts = [c.variants[0][0] for c in words]
        if len(words) > 4:  # a long question: its rarest words find the pages
            rarest = sorted(set(firsts), key=self._df)[:_LONG_QUERY_WORDS]
            searches.append(search(" ".join(rarest), drop_tokens_threshold=per_search))
            for term in rarest[:4]:
                searches.append(search(term))
            return searches
        searches.append(search(" ".join(firsts), drop_tokens_threshold=per_search))
        for i, clause in enumerate(words):
            others = " && ".join(_any_of(c) for j, c in enumerate(words) if j != i)
            for term, _ in clause.variants[:_FORMS_PER_WORD]:
                searches.append(search(term, others))
                if others:  # pages with this form but not every other word
                    searches.append(search(term, drop_tokens_threshold=0))
        return searches

    def _counting_searches(
        self,
        words: list[Clause],
        phrases: Sequence[tuple[str, ...]],
        restrict: str,
        subject_keys: list[str],
        collapse: bool,
    ) -> list[dict[str, Any]]:
        """Four counts: pages with every word (unfiltered, for facets; filtered, for the
        total), and pages with any word, the same two ways."""
        q = " ".join(_phrase(p) for p in phrases) or "*"
        every = " && ".join(_any_of(c) for c in words)
        any_word = _any_of(Clause(tuple(v for c in words for v in c.variants))) if words else ""
        unfiltered = " && ".join(
            f for f in restrict.split(" && ") if f and not f.startswith("subject_key:")
        )
        out = []
        for matched in (every, any_word):
            for where in (unfiltered, restrict):
                clause = " && ".join(x for x in (matched, where) if x)
                search: dict[str, Any] = {"q": q, "per_page": 0, "facet_by": "subject"}
                search["max_facet_values"] = 1000
                if clause:
                    search["filter_by"] = clause
                if collapse:
                    search["group_by"] = "question_key"
                    search["group_limit"] = 1
                out.append(search)
        del subject_keys
        return out

    @staticmethod
    def _counts(
        results: list[dict[str, Any]], count: int, words: int
    ) -> tuple[int, dict[str, int], bool]:
        every_all, every_filtered, any_all, any_filtered = results
        use_every = words <= 1 or int(every_all.get("found", 0)) >= count
        facets_from, total_from = (
            (every_all, every_filtered) if use_every else (any_all, any_filtered)
        )
        facets: dict[str, int] = {}
        for facet in facets_from.get("facet_counts", []):
            for item in facet.get("counts", []):
                if item.get("value"):
                    facets[str(item["value"])] = int(item["count"])
        facets = dict(sorted(facets.items(), key=lambda kv: (-kv[1], kv[0])))
        return int(total_from.get("found", 0)), facets, True

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

    # -- facts -------------------------------------------------------------------------------

    def stats(self) -> IndexStats:
        result = self.cluster.multi_search(
            self.name,
            [{"q": "*", "per_page": 0, "facet_by": "subject", "max_facet_values": 1000}],
            {},
        )[0]
        subjects = {
            str(c["value"]): int(c["count"])
            for f in result.get("facet_counts", [])
            for c in f.get("counts", [])
            if c.get("value")
        }
        return IndexStats(
            documents=int(result.get("found", 0)),
            size_bytes=0,
            built_at=str(self.stats_data.get("built_at", "")),
            schema_version=int(self.stats_data.get("schema_version", 0)),
            generation=self.name,
            index_dir=str(self.location),
            subjects=dict(sorted(subjects.items(), key=lambda kv: (-kv[1], kv[0]))),
        )


class CandidateRanker(Ranker):
    """quicksearch's ranking over a few pages fetched from the cluster, scored with the whole
    collection's statistics (document frequencies, average lengths, page count)."""

    def __init__(self, engine: ClusterEngine, docs: list[dict[str, Any]], settings: Settings):
        self._reader = None  # type: ignore[assignment]
        self.settings = settings
        self.size = len(docs)
        self._live = np.ones(self.size, dtype=bool)
        self._segments = []
        self._offsets = []
        self._texts = {
            field: [f" {d.get(key, '')} " for d in docs] for field, key in _FIELD_OF.items()
        }
        self._lengths = {
            field: quantized_lengths(np.array([t.count(" ") - 1 for t in texts]))
            for field, texts in self._texts.items()
        }
        for field, texts in self._texts.items():  # an empty field has no terms
            self._lengths[field][[i for i, t in enumerate(texts) if not t.strip()]] = 0
        self._setup(
            [d.get("subject", "") for d in docs],
            [d.get("question_key", "") for d in docs],
            engine.averages,
        )
        self.documents = engine.documents
        self._global_df = engine.df
        self._vocabulary_df = engine.vocabulary.df

    def _prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        for field, term in dict.fromkeys(pairs):
            if (field, term) in self._cache:
                continue
            needle = f" {term} "
            counts = np.array([t.count(needle) for t in self._texts[field]], dtype=np.float32)
            ids = np.flatnonzero(counts).astype(np.int32)
            df = int(self._global_df.get(field, {}).get(term, 0))
            if not len(ids):
                entry = _Entry(_EMPTY_IDS, _EMPTY_TF, df, 0.0, 0.0)
            else:
                tf = counts[ids]
                shortest = float(self._lengths[field][ids].min())
                entry = _Entry(ids, tf, max(df, 1), float(tf.max()), shortest)
            self._cache[(field, term)] = entry

    def _clause_count(self, plan: Any) -> int:
        # The collection-wide pages of a clause: its commonest form's, a lower bound.
        return max((int(self._vocabulary_df.get(t, 0)) for t, _ in plan.clause.variants), default=0)

    def _question_df(self, term: str) -> int:
        return int(self._global_df.get("question", {}).get(term, 0))

    def _question_terms(self, docnum: int) -> str:
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
