"""HTTP face of a :class:`~quicksearch.searcher.Searcher`: a JSON API and a search page.

Endpoints (see :data:`OPENAPI` for the full description, served at ``/openapi.json``):

- ``GET /search?q=&page=&limit=&subject=``: the same JSON object as ``quicksearch search --json``;
- ``GET /suggest?q=&limit=``: completions of the last word, for an autocomplete list;
- ``GET /related?url=&limit=&subject=``: the pages most like one page (404 for an unknown url);
- ``POST /click``: which result a visitor opened (the page's beacon), for the query report;
- ``GET /health``: index generation and document count, for monitoring;
- ``GET /metrics``: Prometheus metrics (requests, latency, zero-result searches, clicks, index);
- ``GET /``: a self-contained search-as-you-type page.

One Searcher serves every request of a process; a background task switches it to a new index
generation (a nightly rebuild) while requests keep being answered from the old one. With a
query log (:class:`~quicksearch.analytics.QueryLog`), each search and click becomes a JSON line.
Bad input gets a 400 with ``{"error": ..., "hint": ...}``; nothing a client sends causes a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import html
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quicksearch.analytics import QueryLog, new_search_id, normalise_query
from quicksearch.config import DEFAULT_SETTINGS, Settings
from quicksearch.errors import InvalidArgumentError, PageNotFoundError, QuickSearchError
from quicksearch.metrics import CONTENT_TYPE, MULTIPROC_ENV, ServerMetrics, prepare_multiprocess_dir
from quicksearch.searcher import Searcher
from quicksearch.version import __version__

__all__ = ["OPENAPI", "ServerConfig", "create_app", "openapi"]

_log = logging.getLogger("quicksearch.server")

MAX_SUBJECT_CHARS = 100
MAX_COMPLETIONS = 20
MAX_URL_CHARS = 2000
#: Largest /click body accepted, in bytes: room for any body the document declares valid, its
#: strings written as JSON escapes (12 bytes for a character outside the BMP), and no more.
MAX_CLICK_BYTES = 65_536

#: Environment variable through which ``quicksearch serve`` hands its options to each worker.
CONFIG_ENV = "QUICKSEARCH_SERVER_CONFIG"


@dataclass(frozen=True)
class ServerConfig:
    """What the HTTP server needs besides the index: limits, CORS and the page's links."""

    index_dir: str = "index_data"
    #: Longest accepted query, in characters (longer ones get a 400).
    max_query_chars: int = 500
    max_limit: int = 100
    max_page: int = 1000
    #: Origins allowed to call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    #: Prepended to each hit's url in the page's links (``https://example.org``).
    link_base: str = ""
    #: Seconds between checks for a new index generation.
    refresh_seconds: float = 1.0
    synonyms: tuple[tuple[str, ...], ...] = field(default=())
    #: Append each search and click to this JSON-lines file (None: record nothing).
    query_log: str | None = None

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, value: str) -> ServerConfig:
        data = json.loads(value)
        data["cors_origins"] = tuple(data.get("cors_origins", ()))
        data["synonyms"] = tuple(tuple(group) for group in data.get("synonyms", ()))
        return cls(**data)


class _JSON(JSONResponse):
    """Compact JSON that browsers must not sniff as anything else."""

    def __init__(self, content: Any, status_code: int = 200, **kwargs: Any) -> None:
        super().__init__(content, status_code, **kwargs)
        self.headers["X-Content-Type-Options"] = "nosniff"


def _error(status: int, message: str, hint: str = "") -> JSONResponse:
    return _JSON({"error": message, "hint": hint}, status_code=status)


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"{name} must be a whole number", hint=f"use {name}={default}"
        ) from None
    if not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _query_param(params: Mapping[str, str], config: ServerConfig) -> str:
    q = params.get("q", "")
    if len(q) > config.max_query_chars:
        raise InvalidArgumentError(
            f"q is {len(q)} characters long; the limit is {config.max_query_chars}",
            hint="shorten the query",
        )
    return q


def create_app(
    config: ServerConfig | None = None,
    *,
    searcher: Searcher | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> Starlette:
    """The ASGI app for ``config``; it opens its own Searcher unless one is given."""
    config = config or ServerConfig()
    if config.synonyms and settings.synonyms != config.synonyms:
        settings = dataclasses.replace(settings, synonyms=config.synonyms)
    state = _State()
    metrics = ServerMetrics()

    def current() -> Searcher:
        assert state.searcher is not None, "the app's lifespan has not started"
        return state.searcher

    async def api(request: Request, work: Callable[[Mapping[str, str]], Any]) -> Response:
        try:
            # Ranking is CPU work under the Searcher's lock: keep it off the event loop.
            data = await run_in_threadpool(work, request.query_params)
        except InvalidArgumentError as exc:
            return _error(400, exc.message, exc.hint)
        except PageNotFoundError as exc:
            return _error(404, exc.message, exc.hint)
        except QuickSearchError as exc:
            _log.error("search failed: %s", exc)
            return _error(503, exc.message, exc.hint)
        return _JSON(data, headers={"Cache-Control": "no-cache"})

    def do_search(params: Mapping[str, str]) -> dict[str, Any]:
        started = time.perf_counter()
        q = _query_param(params, config)
        limit = _int_param(params, "limit", 10, 1, config.max_limit)
        page = _int_param(params, "page", 1, 1, config.max_page)
        subject = _subject_param(params)
        typing = _flag_param(params, "typing")
        live = current()
        results = live.search(q, limit=limit, page=page, subject=subject)
        data = results.to_dict()
        if results.total == 0:
            metrics.zero_results.inc()
        logged = normalise_query(q)
        if state.log is not None and (logged or subject):
            data["search_id"] = search_id = new_search_id()
            state.log.record(
                "search",
                q=logged,
                subject=subject,
                page=page,
                total=results.total,
                hits=len(results.hits),
                suggestion=results.suggestion,
                ms=round((time.perf_counter() - started) * 1000, 2),
                gen=live.generation,
                top=results.hits[0].subject if results.hits else None,
                typing=typing,
                id=search_id,
            )
        return data

    def do_suggest(params: Mapping[str, str]) -> dict[str, Any]:
        q = _query_param(params, config)
        limit = _int_param(params, "limit", 8, 1, MAX_COMPLETIONS)
        return current().complete(q, limit=limit).to_dict()

    def do_related(params: Mapping[str, str]) -> dict[str, Any]:
        url = params.get("url", "")
        if not url or len(url) > MAX_URL_CHARS:
            raise InvalidArgumentError(
                f"url is required, at most {MAX_URL_CHARS} characters", hint="pass url=/learn/..."
            )
        limit = _int_param(params, "limit", 5, 1, config.max_limit)
        hits = current().related(url, limit=limit, subject=_subject_param(params))
        return {"url": url, "hits": [hit.to_dict() for hit in hits]}

    def do_health(params: Mapping[str, str]) -> dict[str, Any]:
        facts = current().stats()
        return {
            "status": "ok",
            "documents": facts.documents,
            "generation": facts.generation,
            "built_at": facts.built_at,
            "schema_version": facts.schema_version,
            "version": __version__,
        }

    async def search(request: Request) -> Response:
        return await api(request, do_search)

    async def suggest(request: Request) -> Response:
        return await api(request, do_suggest)

    async def related(request: Request) -> Response:
        return await api(request, do_related)

    async def health(request: Request) -> Response:
        return await api(request, do_health)

    async def click(request: Request) -> Response:
        body = await _read_limited(request, MAX_CLICK_BYTES)
        if body is None:
            return _error(413, f"the body is over {MAX_CLICK_BYTES} bytes")
        try:
            report = _click_body(body, config)
            known = await run_in_threadpool(current().has_page, report["url"])
        except InvalidArgumentError as exc:
            return _error(400, exc.message, exc.hint)
        except QuickSearchError as exc:
            return _error(503, exc.message, exc.hint)
        if not known:
            return _error(404, "no page with this url in the index", "send a url a search returned")
        metrics.clicks.inc()
        if state.log is not None:
            state.log.record("click", **report)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    async def metrics_text(request: Request) -> Response:
        try:
            live = current()
            body = await run_in_threadpool(metrics.exposition, live.stats, live.cache_sizes)
        except QuickSearchError as exc:
            return _error(503, exc.message, exc.hint)
        return Response(body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-cache"})

    async def openapi_json(request: Request) -> Response:
        return _JSON(spec)

    page_html = _page_html(config)
    spec = openapi(config)

    async def page(request: Request) -> Response:
        return HTMLResponse(
            page_html,
            headers={
                # The page is self-contained: it loads nothing but this API.
                "Content-Security-Policy": (
                    "default-src 'none'; connect-src 'self'; img-src 'self' data:; "
                    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
                ),
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        answer = _error(status, str(detail), "see /openapi.json for the endpoints")
        # A 405 names the methods the path takes (``Allow``, as RFC 9110 asks).
        answer.headers.update(getattr(exc, "headers", None) or {})
        return answer

    async def internal_error(request: Request, exc: Exception) -> Response:
        _log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error", "this is a bug in quicksearch")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = searcher is None
        state.searcher = searcher or Searcher(config.index_dir, settings=settings)
        if config.query_log:
            state.log = QueryLog(config.query_log, on_drop=metrics.log_dropped.inc)
        settled = await run_in_threadpool(_settle, current(), None)
        task = asyncio.create_task(_follow_rebuilds(current(), config.refresh_seconds, settled))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if state.log is not None:
                await run_in_threadpool(state.log.close)
            metrics.close()
            if own:
                current().close()

    # Outermost, so that every answer is counted, CORS refusals and errors included.
    middleware = [Middleware(_Instrumented, metrics=metrics)]
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET", "POST"],
                max_age=600,
            )
        )
    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/search", search, methods=["GET"]),
            Route("/suggest", suggest, methods=["GET"]),
            Route("/related", related, methods=["GET"]),
            Route("/click", click, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )


@dataclass
class _State:
    searcher: Searcher | None = None
    log: QueryLog | None = None


class _Instrumented:
    """ASGI middleware: counts each answer by endpoint and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - started)


_FLAGS = {"1": True, "true": True, "0": False, "false": False}


def _flag_param(params: Mapping[str, str], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw not in _FLAGS:
        raise InvalidArgumentError(f"{name} must be one of 1, 0, true, false", hint=f"{name}=1")
    return _FLAGS[raw]


def _subject_param(params: Mapping[str, str]) -> str | None:
    subject = params.get("subject") or None
    if subject and len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidArgumentError(f"subject must be at most {MAX_SUBJECT_CHARS} characters")
    return subject


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


_SEARCH_ID = frozenset("0123456789abcdef")


def _click_body(body: bytes, config: ServerConfig) -> dict[str, Any]:
    """The validated fields of a /click body: ``{"q", "url", "rank"[, "search_id"]}``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgumentError(
            "the body must be a JSON object", hint='send {"q": ..., "url": ..., "rank": 1}'
        ) from None
    if not isinstance(data, dict):
        raise InvalidArgumentError("the body must be a JSON object")
    q, url, rank = data.get("q"), data.get("url"), data.get("rank")
    search_id = data.get("search_id")
    if not isinstance(q, str) or len(q) > config.max_query_chars:
        raise InvalidArgumentError(f"q must be a string of at most {config.max_query_chars} chars")
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise InvalidArgumentError(f"url must be a string of 1 to {MAX_URL_CHARS} characters")
    highest = config.max_limit * config.max_page
    if isinstance(rank, float) and rank.is_integer():  # JSON Schema's integer: 3.0 is one
        rank = int(rank)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= highest:
        raise InvalidArgumentError(f"rank must be a whole number from 1 to {highest}")
    if search_id is not None and (
        not isinstance(search_id, str)
        or not 0 < len(search_id) <= 32
        or not set(search_id) <= _SEARCH_ID
    ):
        raise InvalidArgumentError("search_id must be the search_id a search returned")
    return {"q": normalise_query(q), "url": url, "rank": rank, "id": search_id}


async def _follow_rebuilds(searcher: Searcher, every: float, settled: str) -> None:
    """Switch to a new generation soon after a rebuild, before a request has to."""
    while True:
        await asyncio.sleep(every)
        try:
            if await run_in_threadpool(searcher.refresh):
                _log.info("now serving a new index generation")
            # Off the event loop: reading the generation waits for the searcher's lock.
            settled = await run_in_threadpool(_settle, searcher, settled)
        except QuickSearchError as exc:
            _log.warning("index refresh failed: %s", exc)


def _settle(searcher: Searcher, settled: str | None) -> str:
    """Warm a new searcher (``settled`` None), or settle the heap after a switch (made here or
    by a request); return the generation now served.

    The index's caches are some 100,000 long-lived objects; every full garbage collection walks
    them all, a pause of about 60 ms in whichever request triggers it, so they are frozen out
    of it. Frozen objects are still freed by reference counting; unfreezing first lets a
    generation that was switched away from be collected before the new one is frozen.
    """
    if settled is None:
        searcher.warm()
    generation = searcher.generation
    if generation != settled:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
    return generation


def _page_html(config: ServerConfig) -> str:
    template = resources.files("quicksearch").joinpath("web/index.html").read_text("utf-8")
    settings = {"linkBase": config.link_base, "version": __version__}
    # Raw text inside <script>: escape what could end the element, the JSON way.
    blob = json.dumps(settings)
    for char in "<>&":
        blob = blob.replace(char, f"\\u{ord(char):04x}")
    return template.replace("{{CONFIG}}", blob).replace("{{VERSION}}", html.escape(__version__))


def app_from_env() -> Starlette:
    """App factory for uvicorn workers: the config comes from :data:`CONFIG_ENV`."""
    return create_app(ServerConfig.from_env(os.environ.get(CONFIG_ENV, "{}")))


def serve(config: ServerConfig, *, host: str, port: int, workers: int, log_level: str) -> None:
    """Run the server until interrupted (what ``quicksearch serve`` calls)."""
    import shutil
    import socket
    import tempfile

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ[CONFIG_ENV] = config.to_env()
    own_metrics_dir = None
    if os.environ.get(MULTIPROC_ENV):
        prepare_multiprocess_dir(os.environ[MULTIPROC_ENV])
    elif workers > 1:
        # Workers are spawned and import prometheus_client afresh: they see this and share
        # their counters through files in it.
        own_metrics_dir = tempfile.mkdtemp(prefix="quicksearch-metrics-")
        os.environ[MULTIPROC_ENV] = own_metrics_dir
    uv_config = uvicorn.Config(
        "quicksearch.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )
    try:
        if workers == 1:
            uvicorn.Server(uv_config).run()
            return
        sock = uv_config.bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # uvicorn's shared socket has proto 0, so asyncio leaves Nagle on for the
            # connections it accepts, and keep-alive responses stall ~40 ms on delayed ACKs.
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(uv_config, sockets=[sock]).run()
    finally:
        if own_metrics_dir:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _param(
    name: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


_ERROR = {
    "description": "Invalid parameter",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def openapi(config: ServerConfig) -> dict[str, Any]:
    """OpenAPI 3.1 description of the API with ``config``'s limits (served at ``/openapi.json``)."""
    q = {"type": "string", "maxLength": config.max_query_chars}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "quicksearch",
            "version": __version__,
            "description": "Full-text search over question-and-answer pages.",
        },
        "paths": {
            "/search": {
                "get": {
                    "summary": "Ranked pages for a query, with highlighted title and snippet",
                    "parameters": [
                        _param(
                            "q",
                            q,
                            'Query: words, "phrase", -excluded, a OR b, subject:name',
                        ),
                        _param(
                            "page",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": config.max_page,
                                "default": 1,
                            },
                            "Page of results",
                        ),
                        _param(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": config.max_limit,
                                "default": 10,
                            },
                            "Results per page",
                        ),
                        _param(
                            "subject",
                            {"type": "string", "maxLength": MAX_SUBJECT_CHARS},
                            "Only this subject (any spelling); unknown subjects match nothing",
                        ),
                        _param(
                            "typing",
                            {"type": "string", "enum": list(_FLAGS), "default": "0"},
                            "Sent while the visitor is still typing (search as you type): the "
                            "query report folds it into the longer query typed next",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "One page of results",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/SearchResults"}
                                }
                            },
                        },
                        "400": _ERROR,
                    },
                }
            },
            "/suggest": {
                "get": {
                    "summary": "Completions of the query's last word",
                    "parameters": [
                        _param("q", q, "What was typed so far"),
                        _param(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_COMPLETIONS,
                                "default": 8,
                            },
                            "Most completions to return",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "Completions, most frequent first",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Completions"}
                                }
                            },
                        },
                        "400": _ERROR,
                    },
                }
            },
            "/related": {
                "get": {
                    "summary": "The pages most like one page (never itself nor its twins)",
                    "parameters": [
                        _param(
                            "url",
                            {"type": "string", "minLength": 1, "maxLength": MAX_URL_CHARS},
                            "The page's url, as its front matter has it",
                            required=True,
                        ),
                        _param(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": config.max_limit,
                                "default": 5,
                            },
                            "Most pages to return",
                        ),
                        _param(
                            "subject",
                            {"type": "string", "maxLength": MAX_SUBJECT_CHARS},
                            "Only pages of this subject (any spelling)",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "Related pages, best first",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "url": {"type": "string"},
                                            "hits": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Hit"},
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "400": _ERROR,
                        "404": _ERROR,
                    },
                }
            },
            "/click": {
                "post": {
                    "summary": "Report which result a visitor opened (for the query report)",
                    "description": "What the search page's beacon sends. No cookies are read or "
                    "set and nothing about the visitor is recorded.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Click"}},
                            "text/plain": {"schema": {"$ref": "#/components/schemas/Click"}},
                        },
                    },
                    "responses": {
                        "204": {"description": "Recorded"},
                        "400": _ERROR,
                        "413": _ERROR,
                        "404": {
                            "description": "No page with this url is in the index",
                            "content": _ERROR["content"],
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "responses": {
                        "200": {
                            "description": "Requests by endpoint and status, latency histogram, "
                            "zero-result searches, clicks, documents and age of the live index",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Index generation and document count",
                    "responses": {
                        "200": {
                            "description": "The index is open and searchable",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Health"}
                                }
                            },
                        },
                        "503": {"description": "The index cannot be read"},
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}, "hint": {"type": "string"}},
                },
                "Hit": {
                    "type": "object",
                    "required": ["url", "title", "title_html", "subject", "score", "snippet"],
                    "properties": {
                        "url": {"type": "string"},
                        "title": {"type": "string", "description": "The question, plain text"},
                        "title_html": {
                            "type": "string",
                            "description": "Escaped title with <mark> around matches",
                        },
                        "subject": {"type": "string"},
                        "date": {"type": ["string", "null"], "format": "date"},
                        "score": {"type": "number"},
                        "snippet": {
                            "type": "string",
                            "description": "Escaped passage with <mark> around matches",
                        },
                    },
                },
                "SearchResults": {
                    "type": "object",
                    "required": ["query", "total", "page", "hits", "facets"],
                    "properties": {
                        "query": {"type": "string"},
                        "total": {
                            "type": "integer",
                            "description": "Matching questions; a lower bound (at least 10,000) "
                            "when total_is_exact is false",
                        },
                        "total_is_exact": {"type": "boolean"},
                        "page": {"type": "integer"},
                        "limit": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "suggestion": {
                            "type": ["string", "null"],
                            "description": "A corrected query (did you mean)",
                        },
                        "facets": {
                            "type": "object",
                            "additionalProperties": {"type": "integer"},
                            "description": "Matching pages per subject",
                        },
                        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                        "search_id": {
                            "type": "string",
                            "description": "Names this search for /click (only when the "
                            "server keeps a query log)",
                        },
                    },
                },
                "Click": {
                    "type": "object",
                    "required": ["q", "url", "rank"],
                    "properties": {
                        "q": {"type": "string", "maxLength": config.max_query_chars},
                        "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL_CHARS},
                        "rank": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": config.max_limit * config.max_page,
                            "description": "Position of the opened result, 1 = first of page 1",
                        },
                        "search_id": {
                            "type": "string",
                            "pattern": "^[0-9a-f]{1,32}$",
                            "description": "The search_id of the search that showed it",
                        },
                    },
                },
                "Completions": {
                    "type": "object",
                    "required": ["query", "prefix", "completions", "queries"],
                    "properties": {
                        "query": {"type": "string"},
                        "prefix": {"type": "string"},
                        "completions": {"type": "array", "items": {"type": "string"}},
                        "queries": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "documents", "generation"],
                    "properties": {
                        "status": {"type": "string"},
                        "documents": {"type": "integer"},
                        "generation": {"type": "string"},
                        "built_at": {"type": "string"},
                        "schema_version": {"type": "integer"},
                        "version": {"type": "string"},
                    },
                },
            }
        },
    }


#: The description for the default limits.
OPENAPI = openapi(ServerConfig())
