"""Searching an index on a cluster: the embedded engine's ranker over the cluster's tables.

A build stores, beside the pages, every posting list and the per-page facts scoring reads
(``tables.py``). A searcher loads the page table once per generation and reads the posting
lists a query needs in one multi-search (then from its cache), so it ranks the whole
collection as the embedded engine does: the same pages, scores, totals and facets. Typesense
answers what needs positions (phrases, stop-word questions) and holds the pages shown.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from quicksearch.analysis import remember_stems
from quicksearch.config import SCHEMA_VERSION, Settings
from quicksearch.engines.base import Rows, ranked_rows
from quicksearch.engines.typesense.client import Cluster
from quicksearch.engines.typesense.store import (
    CLUSTER_LAYOUT,
    page_id,
    page_rows,
    read_meta,
)
from quicksearch.engines.typesense.tables import (
    decode_list,
    posting_key,
    read_pages,
    read_postings,
    read_version,
)
from quicksearch.errors import IndexNotFoundError, IndexVersionError, QuickSearchError
from quicksearch.expansion import Vocabulary
from quicksearch.lengths import quantized_lengths
from quicksearch.location import ClusterLocation
from quicksearch.models import IndexStats
from quicksearch.query import Clause
from quicksearch.ranking import Postings, Ranker

__all__ = ["ClusterEngine", "ClusterIndex", "ClusterPostings"]

#: How often a searcher asks which collection the alias points to, and which tables are live.
_ALIAS_CHECK_SECONDS = 1.0
#: Typesense's largest page.
_MAX_PER_PAGE = 250
_DISPLAY_FIELDS = "id,url,question,answer,keywords,subject,date,doc_id,source"


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
                self._live = self._current()
            self._checked = now
        return self._live

    def _current(self) -> str | None:
        """The live generation, named with its tables' version when an update wrote a later
        one than its build (``collection~version``): a searcher reopens on either change."""
        live = self.cluster.alias(self.location.collection)
        if live is None:
            return None
        version = read_version(self.cluster, self.location.collection, live)
        return live if version in (None, 1) else f"{live}~{version}"

    def expire(self) -> None:
        self._checked = 0.0

    def live_name(self) -> str:
        live = self._current()
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
    """One generation (collection) of an index on a cluster, and one version of its tables."""

    def __init__(
        self, cluster: Cluster, location: ClusterLocation, name: str, settings: Settings
    ) -> None:
        self.cluster = cluster
        self.location = location
        self.name = name
        self.collection = name.partition("~")[0]
        self.settings = settings
        alias = location.collection
        stats = read_meta(cluster, alias, self.collection, "stats")
        if stats is None:
            raise IndexVersionError(
                f"the cluster collection {self.collection} has no quicksearch statistics"
            )
        layout = (stats.get("schema_version"), stats.get("cluster_layout", 1))
        if layout != (SCHEMA_VERSION, CLUSTER_LAYOUT):
            raise IndexVersionError(
                f"the index at {location} has schema version {layout[0]} (cluster layout "
                f"{layout[1]}), this quicksearch reads version {SCHEMA_VERSION} (layout "
                f"{CLUSTER_LAYOUT})",
                hint=f"rebuild it with: quicksearch index SOURCE --index {location}",
            )
        version = read_version(cluster, alias, self.collection)
        if version is None:
            raise IndexVersionError(
                f"the cluster collection {self.collection} has no ranking tables",
                hint=f"rebuild it with: quicksearch index SOURCE --index {location}",
            )
        vocabulary = read_meta(cluster, alias, self.collection, "vocabulary") or {}
        self.stats_data = stats
        self.documents = int(stats.get("documents", 0))
        remember_stems(vocabulary.get("stems", {}), vocabulary.get("words", {}))
        self._vocabulary = Vocabulary(vocabulary.get("terms", {}), vocabulary.get("words", {}))
        self.source = ClusterPostings(
            cluster,
            alias,
            self.collection,
            version,
            read_pages(cluster, alias, self.collection, version),
            stats,
        )
        self.ranker = Ranker(self.source, settings)

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
        return ranked_rows(
            self.ranker,
            clauses,
            excluded,
            (phrases, excluded_phrases),
            subject_keys,
            (start, count),
            collapse,
            settings,
            self._phrase_clause,
            lambda docnums: self._display([self.source.ids[n] for n in docnums]),
        )

    def question_counts(
        self, groups: Sequence[Sequence[str]], probes: Sequence[tuple[int, str]]
    ) -> list[int]:
        return self.ranker.question_counts(groups, probes)

    def _phrase_clause(self, words: tuple[str, ...]) -> Clause:
        """The pages holding ``words`` side by side in a text field (Typesense's phrase
        search over the analysed fields), as a clause over page numbers."""
        search: dict[str, Any] = {
            "q": _phrase(words),
            "query_by": "qt,kt,at",
            "num_typos": 0,
            "prefix": "false",
            "drop_tokens_threshold": 0,
            "typo_tokens_threshold": 0,
            "include_fields": "id",
            "highlight_fields": "none",
            "per_page": _MAX_PER_PAGE,
        }
        first = self.cluster.multi_search(self.collection, [{**search, "page": 1}], {})[0]
        found = int(first.get("found", 0))
        results = [first]
        pages = -(-found // _MAX_PER_PAGE)
        if pages > 1:
            more = [{**search, "page": k} for k in range(2, pages + 1)]
            results += self.cluster.multi_search(self.collection, more, {})
        number = self.source.number
        docs = sorted(
            n
            for result in results
            for hit in result.get("hits", [])
            if (n := number.get(hit["document"]["id"])) is not None
        )
        return Clause(
            tuple((w, 1.0) for w in words), docs=np.array(docs, dtype=np.int64), phrase=True
        )

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
                self.collection, [{**search, "per_page": size, "page": page}], {}
            )[0]
            found = int(result.get("found", 0))
            groups = result.get("grouped_hits", [])
            ids += [g["hits"][0]["document"]["id"] for g in groups if g.get("hits")]
            if len(groups) < size or page * size >= found:
                break
            page += 1
        rows = self._display(ids[:count])
        return Rows([(row, 1.0) for row in rows], found, {}, True)

    def _display(self, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        result = self.cluster.multi_search(
            self.collection,
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
        response = self.cluster.request(
            "GET", f"/collections/{self.collection}/documents/{page_id(url)}"
        )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise QuickSearchError(
                f"cannot read a page of {self.collection}: {response.text[:200]}"
            )
        document = response.json()
        return next(page_rows([document])) if document.get("url") == url else None

    # -- facts -------------------------------------------------------------------------------

    def cache_bytes(self) -> dict[str, int]:
        return self.ranker.cache_bytes()

    def stats(self) -> IndexStats:
        result = self.cluster.multi_search(
            self.collection,
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


class ClusterPostings:
    """A generation's tables on the cluster, as a :class:`PostingSource`: the page table and
    every posting list (compressed) read once at open, lists decoded as queries ask for them
    (and then kept by the ranker's posting cache, as the embedded engine's are)."""

    def __init__(
        self,
        cluster: Cluster,
        alias: str,
        collection: str,
        version: int,
        pages: dict[str, Any],
        stats: dict[str, Any],
    ) -> None:
        # Every list, compressed, read once per generation and version (see tables.py).
        self._lists = read_postings(cluster, collection, version)
        self.ids: list[str] = list(pages["ids"])
        self.number = {page: n for n, page in enumerate(self.ids)}
        self.size = len(self.ids)
        self.live = np.ones(self.size, dtype=bool)
        self.lengths = {f: quantized_lengths(v) for f, v in pages["lengths"].items()}
        self.subjects: Sequence[Any] = list(pages["subjects"])
        self.question_keys: Sequence[Any] = list(pages["keys"])
        self._questions: list[str] = list(pages["questions"])
        self.documents = self.size
        n = max(1, self.documents)
        self.averages = {
            f: max(1.0, float(stats.get("lengths", {}).get(f, 0)) / n) for f in self.lengths
        }

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[Postings | None]:
        out: list[Postings | None] = []
        for field, term in pairs:
            data = self._lists.get(posting_key(field, term))
            if data is None:
                out.append(None)
                continue
            pages, tf = decode_list(data)
            shortest = float(self.lengths[field][pages].min())
            out.append(Postings(pages, tf, float(tf.max()), shortest))
        return out

    def clause_count(self, terms: Sequence[str]) -> int | None:
        return None  # counted from the lists themselves

    def question_df(self, term: str) -> int | None:
        return None  # the question list's length

    def question_terms(self, docnum: int) -> str:
        return self._questions[docnum]


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


def _quote(value: str) -> str:
    return "`" + value.replace("`", "") + "`"


def _phrase(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words) + '"'
