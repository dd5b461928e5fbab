"""What a cluster keeps for the ranker beside its pages: every (field, term) posting list and,
per page, what scoring reads (field lengths, subject, question key, question terms).

With them a searcher ranks the whole collection with the embedded engine's own ranker
(:class:`quicksearch.ranking.Ranker`), so both engines give the same pages, scores, totals and
facets. The posting lists of one version of a generation's tables are one collection
(``NAME__g000007__t1``, a document per list, compressed), which a searcher reads whole when it
opens the generation: on Typesense 0.24 a lookup by id costs 0.5-8 ms and an export filtered
by a field minutes, so lists fetched per query (or kept among the meta documents) were slower
than reading them all once. The page table and a pointer to the live version are meta
documents. Pages are numbered by url, so ties break the same way whichever order a build read
them in.

An update writes the next version beside the live one, then points the generation at it, and
drops the version before (a searcher still on it had a whole update's time to move on).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from quicksearch.engines.typesense.client import Cluster
from quicksearch.engines.typesense.store import (
    meta_collection,
    read_meta,
    wait_replicated,
    write_meta,
)
from quicksearch.errors import QuickSearchError
from quicksearch.fields import RANKED_FIELDS

__all__ = [
    "TableBuilder",
    "decode_list",
    "is_tables_of",
    "posting_key",
    "read_pages",
    "read_postings",
    "read_version",
    "tables_collection",
    "write_tables",
]

#: One letter per ranked field in a posting list's document id.
_FIELD_CODES = {"question": "q", "keywords": "k", "answer": "a", "question_exact": "e"}
_BATCH = 1000
#: A term frequency is kept in two bytes (a page says one word 65,535 times at most, here).
_MAX_TF = 65_535
_TABLES = re.compile(r"^(?P<generation>(?P<alias>.+)__g\d{6})__t\d+$")
_TABLES_FIELDS = [{"name": "version", "type": "int32"}]


def posting_key(field: str, term: str) -> str:
    """A posting list's key within one version of the tables."""
    return _FIELD_CODES[field] + hashlib.sha1(term.encode("utf-8")).hexdigest()[:20]


def tables_collection(generation: str, version: int) -> str:
    """The collection of one version of a generation's posting lists."""
    return f"{generation}__t{version}"


def is_tables_of(name: str, alias: str) -> str | None:
    """The generation whose tables collection ``name`` is (of index ``alias``), else None."""
    match = _TABLES.match(name)
    return match["generation"] if match and match["alias"] == alias else None


def read_postings(cluster: Cluster, generation: str, version: int) -> dict[str, bytes]:
    """Every posting list of one version of a generation's tables, by :func:`posting_key`,
    compressed as stored (about 1.5 bytes a posting)."""
    rows = cluster.export(tables_collection(generation, version), include_fields="id,data")
    return {str(row["id"]): base64.b64decode(row["data"]) for row in rows}


def encode_list(ids: np.ndarray, tf: np.ndarray) -> str:
    """Pages (ascending) as gaps, then frequencies, compressed: about 1.5 bytes a posting."""
    gaps = np.diff(ids.astype(np.int64), prepend=0).astype("<u4")
    raw = gaps.tobytes() + tf.astype("<u2").tobytes()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def decode_list(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    raw = zlib.decompress(data)
    n = len(raw) // 6
    ids = np.cumsum(np.frombuffer(raw, dtype="<u4", count=n), dtype=np.int64).astype(np.int32)
    tf = np.frombuffer(raw, dtype="<u2", count=n, offset=4 * n).astype(np.float32)
    return ids, tf


class TableBuilder:
    """The tables of a collection, gathered page by page while a build reads its pages."""

    def __init__(self) -> None:
        self._urls: list[str] = []
        self._ids: list[str] = []
        self._subjects: list[str] = []
        self._keys: list[str] = []
        self._questions: list[str] = []
        self._lengths = {f: array("I") for f in RANKED_FIELDS}
        # field -> term -> (pages in reading order, frequencies): compact arrays, not lists
        self._lists: dict[str, dict[str, tuple[array[int], array[int]]]] = {
            f: {} for f in RANKED_FIELDS
        }

    def add(
        self, url: str, page_id: str, subject: str, key: str, terms: dict[str, Sequence[str]]
    ) -> None:
        """One page: its index terms per ranked field, in order."""
        n = len(self._urls)
        self._urls.append(url)
        self._ids.append(page_id)
        self._subjects.append(subject)
        self._keys.append(key)
        self._questions.append(" ".join(terms["question"]))
        for field in RANKED_FIELDS:
            words = terms[field]
            self._lengths[field].append(len(words))
            lists = self._lists[field]
            for term, tf in Counter(words).items():
                entry = lists.get(term)
                if entry is None:
                    entry = lists[term] = (array("I"), array("H"))
                entry[0].append(n)
                entry[1].append(min(tf, _MAX_TF))

    @functools.cached_property
    def _order(self) -> np.ndarray:
        """The pages (in reading order) sorted by url, once all are added: page number n is
        ``_order[n]``."""
        return np.array(sorted(range(len(self._urls)), key=self._urls.__getitem__), dtype=np.int64)

    def pages(self) -> dict[str, Any]:
        """The per-page table, in page-number order (JSON)."""
        order = self._order

        def ordered(values: list[str]) -> list[str]:
            return [values[i] for i in order]

        return {
            "ids": ordered(self._ids),
            "subjects": ordered(self._subjects),
            "keys": ordered(self._keys),
            "questions": ordered(self._questions),
            "lengths": {
                f: base64.b64encode(
                    np.frombuffer(v, dtype=np.uint32)[order].astype("<u4").tobytes()
                ).decode("ascii")
                for f, v in self._lengths.items()
            },
        }

    def postings(self) -> Iterator[tuple[str, str, str]]:
        """``(field, term, encoded list)`` of every posting list, pages by number."""
        order = self._order
        rank = np.empty(len(order), dtype=np.int64)  # each page's number
        rank[order] = np.arange(len(order))
        for field, lists in self._lists.items():
            for term, (pages, tf) in lists.items():
                ids = rank[np.frombuffer(pages, dtype=np.uint32)]
                order = np.argsort(ids, kind="stable")
                yield (
                    field,
                    term,
                    encode_list(ids[order], np.frombuffer(tf, dtype=np.uint16)[order]),
                )


def page_table(data: dict[str, Any]) -> dict[str, Any]:
    """A page table as read back: lengths as arrays."""
    lengths = {
        f: np.frombuffer(base64.b64decode(v), dtype="<u4").astype(np.int64)
        for f, v in data["lengths"].items()
    }
    return {**data, "lengths": lengths}


def read_version(cluster: Cluster, alias: str, generation: str) -> int | None:
    """The version of a generation's tables searchers should read (None: no tables)."""
    response = cluster.request(
        "GET", f"/collections/{meta_collection(alias)}/documents/{generation}.tables"
    )
    if response.status_code == 404:
        return None
    if response.status_code >= 400:
        raise QuickSearchError(f"cannot read the tables of {generation}: {response.text[:200]}")
    return int(response.json().get("part", 0))


def write_tables(
    cluster: Cluster, alias: str, generation: str, builder: TableBuilder, renew: Any = None
) -> int:
    """Write the next version of a generation's tables, wait until every node holds them,
    point the generation at them and drop the version before the one they replace; returns
    the version written."""
    version = (read_version(cluster, alias, generation) or 0) + 1
    name = tables_collection(generation, version)
    cluster.drop_collection(name)  # left by a killed writer
    cluster.create_collection({"name": name, "fields": _TABLES_FIELDS})
    batch: list[dict[str, Any]] = []
    written = 0
    for field, term, data in builder.postings():
        batch.append({"id": posting_key(field, term), "version": version, "data": data})
        if len(batch) >= _BATCH:
            cluster.import_documents(name, batch)
            written += len(batch)
            batch = []
            if renew is not None:
                renew()
    cluster.import_documents(name, batch)
    written += len(batch)
    write_meta(cluster, alias, generation, f"pages{version}", builder.pages())
    wait_replicated(cluster, name, written)
    pointer = {
        "id": f"{generation}.tables",
        "generation": generation,
        "kind": "tables",
        "part": version,
        "parts": 1,
        "data": "",
    }
    cluster.import_documents(meta_collection(alias), [pointer])
    # Searchers still on the version just replaced keep it until the next write.
    if version > 2:
        cluster.drop_collection(tables_collection(generation, version - 2))
        cluster.delete_documents(
            meta_collection(alias), f"generation:=`{generation}` && kind:=pages{version - 2}"
        )
    return version


def read_pages(cluster: Cluster, alias: str, generation: str, version: int) -> dict[str, Any]:
    data = read_meta(cluster, alias, generation, f"pages{version}")
    if data is None:
        raise QuickSearchError(f"the page table of {generation} (version {version}) is missing")
    return page_table(data)
