"""A small HTTP client for a Typesense cluster: every node tried in turn, bounded retries
through leader elections, and errors that say what to do (never a traceback)."""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from quicksearch.engines.base import GenerationGoneError
from quicksearch.errors import ClusterAuthError, ClusterUnavailableError, QuickSearchError
from quicksearch.location import ClusterLocation

__all__ = ["API_KEY_ENV", "Cluster"]

API_KEY_ENV = "QUICKSEARCH_TYPESENSE_API_KEY"

#: How long a write keeps trying while the cluster elects a leader (7-8 s measured).
WRITE_WAIT = 30.0
#: How long a read keeps trying other nodes.
READ_WAIT = 5.0
#: A node that failed is tried last for this long.
_COOLDOWN = 2.0
#: Answers meaning "try again, maybe on another node": no leader yet, lagging follower.
_RETRY_STATUS = frozenset({500, 502, 503, 504})


class Response:
    """An answer: status and body."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Cluster:
    """Requests to the nodes of one cluster location; thread-safe (each thread keeps its own
    connections alive)."""

    def __init__(
        self, location: ClusterLocation, *, api_key: str | None = None, timeout: float = 5.0
    ) -> None:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not key:
            raise ClusterAuthError(f"no API key for the cluster at {location}")
        self.location = location
        self._hosts = [f"{_host(h)}:{p}" for h, p in location.nodes]
        self._headers = {"X-TYPESENSE-API-KEY": key}
        self._timeout = timeout
        self._local = threading.local()
        self._failed: dict[int, float] = {}
        self._start = random.randrange(len(self._hosts))
        self._leader: int | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------------------

    def _connection(self, i: int, fresh: bool = False) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's kept-alive connection to node ``i``, and whether it is new."""
        connections: dict[int, http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        connection = connections.get(i)
        if connection is not None and not fresh:
            return connection, False
        if connection is not None:
            connection.close()
        host, port = self.location.nodes[i]
        connection = http.client.HTTPConnection(host, port, timeout=self._timeout)
        connections[i] = connection
        return connection, True

    def _send(
        self, i: int, method: str, target: str, payload: bytes | None, headers: dict[str, str]
    ) -> Response:
        connection, fresh = self._connection(i)
        for attempt in range(2):
            try:
                connection.request(method, target, body=payload, headers=headers)
                answer = connection.getresponse()
                return Response(answer.status, answer.read())
            except (OSError, http.client.HTTPException):
                connection.close()
                if fresh or attempt:
                    raise
                # A kept-alive connection the node closed meanwhile: once more, anew.
                connection, fresh = self._connection(i, fresh=True)
        raise AssertionError("unreachable")

    def each_node(self) -> list[Cluster]:
        """A client per node, asking that node only (to see what each one holds)."""
        key = self._headers["X-TYPESENSE-API-KEY"]
        return [
            Cluster(ClusterLocation((node,), self.location.collection), api_key=key)
            for node in self.location.nodes
        ]

    def stick_to_leader(self) -> None:
        """Send every request to the leader first (a writer reads back what it wrote, which
        followers see a moment later); other nodes stay the fallback."""
        for i in range(len(self._hosts)):
            try:
                response = self._send(i, "GET", "/debug", None, dict(self._headers))
            except (OSError, http.client.HTTPException):
                continue
            if response.status_code == 200 and response.json().get("state") == 1:
                self._leader = i
                return

    def _order(self) -> list[int]:
        now = time.monotonic()
        first = self._start if self._leader is None else self._leader
        self._start = (self._start + 1) % len(self._hosts)  # spread reads over the nodes
        order = [(first + i) % len(self._hosts) for i in range(len(self._hosts))]
        return sorted(order, key=lambda i: self._failed.get(i, 0.0) > now)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: bytes | None = None,
        write: bool = False,
        wait: float | None = None,
    ) -> Response:
        """One request, to the first node that answers it; 4xx answers are returned as they
        are (the caller knows what a 404 means), 401/403 raise ClusterAuthError."""
        deadline = time.monotonic() + (
            wait if wait is not None else (WRITE_WAIT if write else READ_WAIT)
        )
        pause = 0.05
        last = "no answer"
        target = path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = dict(self._headers)
        payload = data
        if data is None and body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        while True:
            for i in self._order():
                try:
                    response = self._send(i, method, target, payload, headers)
                except (OSError, http.client.HTTPException) as exc:
                    self._failed[i] = time.monotonic() + _COOLDOWN
                    last = f"{self._hosts[i]}: {type(exc).__name__}"
                    continue
                if response.status_code in (401, 403):
                    raise ClusterAuthError(f"the cluster at {self.location} refused the API key")
                if response.status_code in _RETRY_STATUS:
                    self._failed[i] = time.monotonic() + _COOLDOWN
                    last = f"{self._hosts[i]}: {response.status_code} {response.text[:80].strip()}"
                    continue
                self._failed.pop(i, None)
                return response
            if time.monotonic() + pause > deadline:
                raise ClusterUnavailableError(
                    f"the cluster at {self.location} did not answer ({last})"
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request whose answer must be a success; its JSON body."""
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise QuickSearchError(
                f"the cluster refused {method} {path}: {response.status_code} "
                f"{response.text[:200].strip()}"
            )
        return response.json()

    # -- what the engine uses -----------------------------------------------------------------

    def healthy(self) -> bool:
        """Whether some node says it is healthy (no retries)."""
        try:
            return self.request("GET", "/health", wait=0).status_code == 200
        except QuickSearchError:
            return False

    def alias(self, name: str) -> str | None:
        """The collection an alias points to, or None."""
        response = self.request("GET", f"/aliases/{name}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise QuickSearchError(f"cannot read alias {name}: {response.text[:200]}")
        return str(response.json()["collection_name"])

    def set_alias(self, name: str, collection: str) -> None:
        self.json("PUT", f"/aliases/{name}", body={"collection_name": collection}, write=True)

    def collections(self) -> list[dict[str, Any]]:
        return list(self.json("GET", "/collections"))

    def collection(self, name: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/collections/{name}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise QuickSearchError(f"cannot read collection {name}: {response.text[:200]}")
        return dict(response.json())

    def create_collection(self, schema: dict[str, Any]) -> None:
        response = self.request("POST", "/collections", body=schema, write=True)
        if response.status_code == 409:
            return  # created by a retried request whose first answer was lost
        if response.status_code >= 400:
            raise QuickSearchError(
                f"cannot create collection {schema['name']}: {response.text[:200]}"
            )

    def drop_collection(self, name: str) -> None:
        response = self.request("DELETE", f"/collections/{name}", write=True)
        if response.status_code not in (200, 404):
            raise QuickSearchError(f"cannot drop collection {name}: {response.text[:200]}")

    def import_documents(
        self, collection: str, documents: Iterable[dict[str, Any]], action: str = "upsert"
    ) -> None:
        """Write documents (one batch, retried whole: upserts are idempotent)."""
        data = "\n".join(json.dumps(d, ensure_ascii=False) for d in documents).encode("utf-8")
        if not data:
            return
        response = self.request(
            "POST",
            f"/collections/{collection}/documents/import",
            params={"action": action},
            data=data,
            write=True,
        )
        if response.status_code >= 400:
            raise QuickSearchError(f"cannot write to {collection}: {response.text[:200]}")
        for line in response.text.splitlines():
            result = json.loads(line)
            if not result.get("success"):
                raise QuickSearchError(
                    f"the cluster refused a document of {collection}: {result.get('error')}"
                )

    def delete_documents(self, collection: str, filter_by: str) -> None:
        response = self.request(
            "DELETE",
            f"/collections/{collection}/documents",
            params={"filter_by": filter_by, "batch_size": 500},
            write=True,
        )
        if response.status_code not in (200, 404):
            raise QuickSearchError(f"cannot delete from {collection}: {response.text[:200]}")

    def export(self, collection: str, **params: Any) -> Iterator[dict[str, Any]]:
        response = self.request(
            "GET", f"/collections/{collection}/documents/export", params=params or None
        )
        if response.status_code >= 400:
            raise QuickSearchError(f"cannot read {collection}: {response.text[:200]}")
        for line in response.text.splitlines():
            if line:
                yield json.loads(line)

    def parallel_search(
        self, collection: str, groups: list[list[dict[str, Any]]], common: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Groups of searches sent at once, each to another node; the results in order."""
        if len(groups) == 1:
            return self.multi_search(collection, groups[0], common)
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="typesense")
        futures = [self._pool.submit(self.multi_search, collection, g, common) for g in groups]
        return [result for future in futures for result in future.result()]

    def multi_search(
        self, collection: str, searches: list[dict[str, Any]], common: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Several searches in one request. An answer whose hits fall short of what it
        found (seen from a follower applying writes) is asked again of another node."""
        for attempt in range(len(self._hosts) + 1):
            answer = self.json(
                "POST",
                "/multi_search",
                params={"collection": collection, **common},
                body={"searches": searches},
            )
            results = list(answer["results"])
            for result in results:
                if result.get("code") == 404:
                    raise GenerationGoneError(f"the collection {collection} is gone")
                if "error" in result:
                    raise QuickSearchError(f"the cluster refused a search: {result['error']}")
            if all(_whole(s, r) for s, r in zip(searches, results, strict=True)):
                break
            time.sleep(0.01 * attempt)
        return results


def _whole(search: dict[str, Any], result: dict[str, Any]) -> bool:
    """Whether a result holds every hit its count promises for its page."""
    per_page = int(search.get("per_page", 10))
    if not per_page or "group_by" in search:
        return True
    page = int(search.get("page", 1))
    expected = max(0, min(per_page, int(result.get("found", 0)) - (page - 1) * per_page))
    return len(result.get("hits", [])) >= expected


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
