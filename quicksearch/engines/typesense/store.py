"""How an index is laid out on a cluster: one collection per generation behind an alias,
pages in their display and analysed forms, and a meta collection with what the searchers
load (statistics, vocabulary), the record of sources, the history of generations and the
writer's lease."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from quicksearch.analysis import plain_words, stem
from quicksearch.config import SCHEMA_VERSION
from quicksearch.engines.typesense.client import Cluster
from quicksearch.errors import IndexLockedError, QuickSearchError
from quicksearch.fields import KEYWORD_SEPARATOR, kept_words, question_key, subject_key
from quicksearch.models import Document

#: Typesense fields: what is searched (analysed text, every term) and what filters/facets.
#: Changes when the cluster's documents change shape (fields added); another layout is rebuilt.
#: Layout 3: the ranker's tables beside the pages (see tables.py); no per-page term lists.
CLUSTER_LAYOUT = 3
PAGE_FIELDS: list[dict[str, Any]] = [
    {"name": "qt", "type": "string"},  # question terms (stems), in order
    {"name": "kt", "type": "string"},  # keyword terms
    {"name": "at", "type": "string"},  # answer terms
    {"name": "qw", "type": "string"},  # the question's words, stop words kept (phrase search)
    {"name": "qlen", "type": "int32"},  # how many words qw has
    {"name": "url", "type": "string", "sort": True},
    {"name": "subject", "type": "string", "facet": True},
    {"name": "subject_key", "type": "string"},
    {"name": "question_key", "type": "string", "facet": True},
    # Whether another page asks the same question: totals count those questions once.
    {"name": "repeated", "type": "bool"},
]
META_FIELDS: list[dict[str, Any]] = [
    {"name": "generation", "type": "string"},
    {"name": "kind", "type": "string"},
    {"name": "part", "type": "int32"},
]
#: The meta documents of the index as a whole (history, lease), not of one generation.
GLOBAL = "index"
#: How long a writer waits for every node to hold a new collection before switching.
_REPLICATION_WAIT = 60.0
#: Meta blobs are cut into parts of this many characters.
_PART_CHARS = 2_000_000
#: Seconds a generation no longer live or previous is kept for searchers still on it.
RETIRED_GRACE = 15.0
#: A writer's lease lasts this long unless renewed (a killed writer frees the index after it).
LEASE_SECONDS = 60.0
_GENERATION = re.compile(r"^(?P<alias>.+)__g(?P<seq>\d{6})$")


def page_id(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:24]


def meta_collection(alias: str) -> str:
    return f"{alias}__meta"


def generation_name(alias: str, seq: int) -> str:
    return f"{alias}__g{seq:06d}"


def generations(cluster: Cluster, alias: str) -> list[str]:
    """This alias's generation collections, oldest first."""
    names = []
    for info in cluster.collections():
        match = _GENERATION.match(str(info.get("name", "")))
        if match and match["alias"] == alias:
            names.append(match.group(0))
    return sorted(names)


def next_generation(cluster: Cluster, alias: str) -> str:
    existing = generations(cluster, alias)
    seq = int(_GENERATION.match(existing[-1])["seq"]) + 1 if existing else 1  # type: ignore[index]
    return generation_name(alias, seq)


class Statistics:
    """What ranking needs beyond the pages: per-field document frequencies and lengths, and
    the words as written (spelling and completion), gathered while pages are written."""

    FIELDS = ("question", "keywords", "answer", "question_exact")

    def __init__(self) -> None:
        self.documents = 0
        self.df: dict[str, Counter[str]] = {f: Counter() for f in self.FIELDS}
        self.lengths: dict[str, int] = dict.fromkeys(self.FIELDS, 0)
        self.words: Counter[str] = Counter()
        #: Page ids by question key, to mark the questions several pages ask.
        self.keys: dict[str, list[str]] = {}

    def page(self, doc: Document) -> dict[str, Any]:
        """The cluster document of a page, counting its statistics."""
        # Copies: kept_words keeps its last result, which the next call replaces.
        question_words = list(kept_words(doc.question))
        keyword_words = list(kept_words(KEYWORD_SEPARATOR.join(doc.keywords)))
        answer_words = list(kept_words(doc.answer))
        self.words.update(question_words)
        self.words.update(keyword_words)
        self.words.update(answer_words)
        qt = [stem(w) for w in question_words]
        plain = plain_words(doc.question)
        kt = [stem(w) for w in keyword_words]
        at = [stem(w) for w in answer_words]
        for field, values in (
            ("question", qt),
            ("keywords", kt),
            ("answer", at),
            ("question_exact", question_words),
        ):
            self.df[field].update(set(values))
            self.lengths[field] += len(values)
        self.documents += 1
        key = question_key(doc.question)
        self.keys.setdefault(key, []).append(page_id(doc.url))
        return {
            "id": page_id(doc.url),
            "url": doc.url,
            "question": doc.question,
            "answer": doc.answer,
            "keywords": list(doc.keywords),
            "subject": doc.subject,
            "subject_key": subject_key(doc.subject),
            "question_key": key,
            "repeated": False,  # set afterwards, see Statistics.repeated
            "date": doc.date.isoformat() if doc.date else "",
            "source": doc.source or "",
            "doc_id": doc.id,
            "qt": " ".join(qt),
            "kt": " ".join(kt),
            "at": " ".join(at),
            "qe": " ".join(question_words),
            "qw": " ".join(plain),
            "qlen": len(plain),
        }

    def repeated(self) -> set[str]:
        """Ids of the pages whose question another page asks too."""
        return {i for ids in self.keys.values() if len(ids) > 1 for i in ids}

    def to_json(self, built_at: str, mode: str) -> dict[str, Any]:
        terms: dict[str, int] = {}
        for field in ("question", "keywords", "answer"):
            for term, df in self.df[field].items():
                if df > terms.get(term, 0):
                    terms[term] = df
        stems = {w: s for w in self.words if (s := stem(w)) != w}
        return {
            "stats": {
                "schema_version": SCHEMA_VERSION,
                "cluster_layout": CLUSTER_LAYOUT,
                "documents": self.documents,
                "repeated": len(self.repeated()),
                "lengths": self.lengths,
                "built_at": built_at,
                "mode": mode,
            },
            "vocabulary": {
                "terms": terms,
                "words": dict(self.words),
                "stems": stems,
            },
        }


def wait_replicated(cluster: Cluster, collection: str, documents: int) -> None:
    """Until every node answers with the whole collection (followers lag the leader)."""
    deadline = time.monotonic() + _REPLICATION_WAIT
    for node in cluster.each_node():
        while True:
            try:
                info = node.collection(collection)
            except QuickSearchError:
                break  # a node that is down catches up from the log when it comes back
            if info is not None and int(info.get("num_documents", -1)) >= documents:
                break
            if time.monotonic() > deadline:
                raise QuickSearchError(
                    f"the nodes did not all receive {collection} in time; the index was left as "
                    "it was",
                    hint="check the cluster's health and run the build again",
                )
            time.sleep(0.1)


def write_meta(cluster: Cluster, alias: str, generation: str, kind: str, data: Any) -> None:
    """Store a JSON blob for a generation, in parts, replacing any earlier one."""
    meta = meta_collection(alias)
    cluster.create_collection({"name": meta, "fields": META_FIELDS})
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    parts = [text[i : i + _PART_CHARS] for i in range(0, len(text), _PART_CHARS)] or [""]
    cluster.delete_documents(meta, f"generation:={_quote(generation)} && kind:={kind}")
    for i, part in enumerate(parts):
        cluster.import_documents(
            meta,
            [
                {
                    "id": f"{generation}.{kind}.{i}",
                    "generation": generation,
                    "kind": kind,
                    "part": i,
                    "parts": len(parts),
                    "data": part,
                }
            ],
        )


def read_meta(cluster: Cluster, alias: str, generation: str, kind: str) -> Any:
    """A blob written by :func:`write_meta`, or None when it is missing or incomplete."""
    rows = list(
        cluster.export(
            meta_collection(alias),
            filter_by=f"generation:={_quote(generation)} && kind:={kind}",
        )
    )
    if not rows or len(rows) != int(rows[0].get("parts", -1)):
        return None
    rows.sort(key=lambda r: int(r["part"]))
    return json.loads("".join(str(r["data"]) for r in rows))


def drop_meta(cluster: Cluster, alias: str, generation: str) -> None:
    if cluster.collection(meta_collection(alias)) is not None:
        cluster.delete_documents(meta_collection(alias), f"generation:={_quote(generation)}")


def history(cluster: Cluster, alias: str) -> dict[str, Any]:
    """What was live before: ``previous`` (where a rollback goes), ``retired`` (the one
    before it, kept a while for searchers still on it) and ``retired_at``."""
    empty = {"previous": None, "retired": None, "retired_at": 0.0}
    if cluster.collection(meta_collection(alias)) is None:
        return empty
    return {**empty, **(read_meta(cluster, alias, GLOBAL, "history") or {})}


def set_history(
    cluster: Cluster, alias: str, previous: str | None, retired: str | None = None
) -> None:
    data = {"previous": previous, "retired": retired, "retired_at": time.time()}
    write_meta(cluster, alias, GLOBAL, "history", data)


def kept_generations(live: str | None, past: dict[str, Any]) -> set[str]:
    """The generations a writer must not drop: the live one, the one a rollback returns to,
    and one retired less than RETIRED_GRACE seconds ago (searchers move to a new generation
    within a second or so; dropping a collection under a search empties its page)."""
    kept = {live, past.get("previous")}
    if time.time() - float(past.get("retired_at") or 0) < RETIRED_GRACE:
        kept.add(past.get("retired"))
    return {k for k in kept if k}


def _quote(value: str) -> str:
    return "`" + value.replace("`", "") + "`"


class Lease:
    """The one-writer rule on a cluster: a lease document that a writer creates (creation
    fails while another holds it), renews while it works and deletes when done. A killed
    writer's lease runs out after LEASE_SECONDS."""

    def __init__(self, cluster: Cluster, alias: str, timeout: float) -> None:
        self.cluster = cluster
        self.meta = meta_collection(alias)
        self.alias = alias
        self.timeout = timeout
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
        self._renewed = 0.0

    def __enter__(self) -> Lease:
        self.cluster.create_collection({"name": self.meta, "fields": META_FIELDS})
        deadline = time.monotonic() + self.timeout
        while True:
            response = self.cluster.request(
                "POST",
                f"/collections/{self.meta}/documents",
                body=self._document(),
                write=True,
            )
            if response.status_code in (200, 201):
                self._renewed = time.monotonic()
                return self
            if response.status_code != 409:
                raise QuickSearchError(f"cannot take the writer's lease: {response.text[:200]}")
            holder = self.cluster.request("GET", f"/collections/{self.meta}/documents/lease")
            if holder.status_code == 200:
                held = json.loads(holder.json().get("data", "{}"))
                if held.get("owner") == self.owner:  # our own create, answered late
                    self._renewed = time.monotonic()
                    return self
                if float(held.get("expires", 0)) < time.time() or _dead_here(held.get("owner")):
                    self._delete()  # its writer died (here: a killed build's lease is freed)
                    continue
            if time.monotonic() > deadline:
                raise IndexLockedError(f"another process is writing to {self.alias} on the cluster")
            time.sleep(0.2)

    def renew(self) -> None:
        if time.monotonic() - self._renewed > LEASE_SECONDS / 4:
            self.cluster.import_documents(self.meta, [self._document()])
            self._renewed = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self._delete()

    def _document(self) -> dict[str, Any]:
        data = {"owner": self.owner, "expires": time.time() + LEASE_SECONDS}
        return {
            "id": "lease",
            "generation": GLOBAL,
            "kind": "lease",
            "part": 0,
            "parts": 1,
            "data": json.dumps(data),
        }

    def _delete(self) -> None:
        self.cluster.request("DELETE", f"/collections/{self.meta}/documents/lease", write=True)


def _dead_here(owner: object) -> bool:
    """Whether ``owner`` names a process of this machine that no longer runs."""
    host, _, rest = str(owner).partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def page_rows(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Stored fields of cluster documents, shaped as the embedded engine stores them."""
    import datetime as dt

    for doc in documents:
        date = doc.get("date") or ""
        yield {
            "url": doc.get("url", ""),
            "question": doc.get("question", ""),
            "answer": doc.get("answer", ""),
            "subject": doc.get("subject", ""),
            "keywords": KEYWORD_SEPARATOR.join(doc.get("keywords", [])),
            "date": dt.datetime.fromisoformat(date) if date else None,
            "id": doc.get("doc_id"),
            "source": doc.get("source"),
        }
