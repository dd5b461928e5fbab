"""HTTP face of a :class:`~quicksearch.searcher.Searcher`: a JSON API and a search page.

Endpoints (declared once, with FastAPI and the models of :mod:`quicksearch.contract`: the same
declaration validates requests and writes the OpenAPI document served at ``/openapi.json``):

- ``GET /search?q=&page=&limit=&subject=``: the same JSON object as ``quicksearch search --json``;
- ``GET /suggest?q=&limit=``: completions of the last word, for an autocomplete list;
- ``GET /related?url=&limit=&subject=``: the pages most like one page (404 for an unknown url);
- ``POST /click``: which result a visitor opened (the page's beacon), for the query report;
- ``GET /health``: index generation and document count, for monitoring;
- ``GET /metrics``: Prometheus metrics (requests, latency, zero-result searches, clicks, index);
- ``GET /``: a self-contained search-as-you-type page;
- ``GET /widget.js``: the ``<quick-search>`` element, for other sites' pages.

One Searcher serves every request of a process; a background task switches it to a new index
generation (a nightly rebuild) while requests keep being answered from the old one. With a
query log (:class:`~quicksearch.analytics.QueryLog`), each search and click becomes a JSON line.
Bad input gets a 400 with ``{"error": ..., "hint": ...}``; nothing a client sends causes a 500.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, some of
# them local aliases that a string could not be resolved from.
import asyncio
import contextlib
import dataclasses
import gc
import html
import inspect
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.routing import APIRoute
from pydantic import ValidationError, create_model
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
from quicksearch.contract import (
    FLAGS,
    MAX_CLICK_BYTES,
    MAX_COMPLETIONS,
    MAX_SUBJECT_CHARS,
    MAX_URL_CHARS,
    Completions,
    ErrorBody,
    Flag,
    Health,
    Related,
    SearchResultsBody,
    click_model,
    describe_errors,
    finish_openapi,
    validate_click,
)
from quicksearch.errors import InvalidArgumentError, PageNotFoundError, QuickSearchError
from quicksearch.metrics import CONTENT_TYPE, MULTIPROC_ENV, ServerMetrics, prepare_multiprocess_dir
from quicksearch.searcher import Searcher
from quicksearch.version import __version__

__all__ = ["OPENAPI", "ServerConfig", "create_app", "openapi"]

_log = logging.getLogger("quicksearch.server")


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
    #: A file of ``quicksearch learn``: its preferences reorder results (None: nothing learned).
    learned: str | None = None

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, value: str) -> "ServerConfig":
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


@dataclass
class _State:
    searcher: Searcher | None = None
    log: QueryLog | None = None

    def current(self) -> Searcher:
        assert self.searcher is not None, "the app's lifespan has not started"
        return self.searcher


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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = searcher is None
        state.searcher = searcher or Searcher(
            config.index_dir, settings=settings, learned=config.learned
        )
        if config.query_log:
            state.log = QueryLog(config.query_log, on_drop=metrics.log_dropped.inc)
        settled = await run_in_threadpool(_settle, state.current(), None)
        task = asyncio.create_task(
            _follow_rebuilds(state.current(), config.refresh_seconds, settled)
        )
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
                state.current().close()

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
    # The endpoints are declared once, on a FastAPI app that writes /openapi.json from them;
    # requests are served by Starlette routes that validate with a pydantic model made from
    # the same declarations (see _served). Served through FastAPI, its per-request machinery
    # cost 0.4-0.8 ms of a 13 ms /search (about 5%) and 0.3 ms of a /suggest in-process; one
    # model_validate costs about 2 us.
    declared = FastAPI(
        title="quicksearch",
        version=__version__,
        description="Full-text search over question-and-answer pages.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    _api_routes(declared, config, state, metrics)
    _click_route(declared, config, state, metrics)
    _face_routes(declared, config, state, metrics)
    document = declared.openapi()
    document.setdefault("components", {}).setdefault("schemas", {})["Click"] = (
        declared.state.click_schema
    )
    finish_openapi(document)
    declared.state.openapi = document  # what /openapi.json serves
    app = Starlette(
        routes=[_served(route) for route in declared.routes if isinstance(route, APIRoute)],
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.openapi = document
    return app


def _served(route: APIRoute) -> Route:
    """A Starlette route for a declared endpoint: its query parameters validated by one
    pydantic model built from the endpoint's own annotations (so validation and the OpenAPI
    document come from one declaration), then the endpoint called (off the event loop when
    it is a plain function)."""
    endpoint = route.endpoint
    parameters = inspect.signature(endpoint).parameters
    methods = sorted(route.methods or ["GET"])
    if any(p.annotation is Request for p in parameters.values()):
        return Route(route.path, endpoint, methods=methods)  # reads the request itself
    if not parameters:

        async def plain(request: Request) -> Response:
            if inspect.iscoroutinefunction(endpoint):
                return await endpoint()  # type: ignore[no-any-return]
            return await run_in_threadpool(endpoint)  # type: ignore[no-any-return]

        return Route(route.path, plain, methods=methods)
    empty = inspect.Parameter.empty
    model = create_model(
        f"{route.name}_query",
        **{
            name: (p.annotation, ... if p.default is empty else p.default)
            for name, p in parameters.items()
        },
    )

    async def validated(request: Request) -> Response:
        try:
            params = model.model_validate(dict(request.query_params))
        except ValidationError as exc:
            return _error(400, *describe_errors(exc.errors()))
        result: Response = await run_in_threadpool(endpoint, **dict(params))
        return result

    return Route(route.path, validated, methods=methods)


def _api_routes(app: FastAPI, config: ServerConfig, state: _State, metrics: ServerMetrics) -> None:
    """The JSON endpoints, their parameters and limits declared once: FastAPI writes
    /openapi.json from these signatures and ``_served`` validates requests with them."""
    Query_ = Annotated[
        str,
        Query(
            max_length=config.max_query_chars,
            description='Query: words, "phrase", -excluded, a OR b, subject:name',
        ),
    ]
    Subject = Annotated[
        str, Query(max_length=MAX_SUBJECT_CHARS, description="Only this subject (any spelling)")
    ]

    def limit(high: int, description: str) -> Any:
        return Query(ge=1, le=high, description=description)

    @app.get(
        "/search",
        summary="Ranked pages for a query, with highlighted title and snippet",
        response_model=SearchResultsBody,
    )
    def search(
        q: Query_ = "",
        page: Annotated[int, limit(config.max_page, "Page of results")] = 1,
        limit: Annotated[int, limit(config.max_limit, "Results per page")] = 10,
        subject: Subject = "",
        typing: Annotated[
            Flag,
            Query(
                description="Sent while the visitor is still typing (search as you type): "
                "the query report folds it into the longer query typed next"
            ),
        ] = "0",
    ) -> Response:
        started = time.perf_counter()
        live = state.current()
        results = _answer(live.search, q, limit=limit, page=page, subject=subject or None)
        data = results.to_dict()
        if results.total == 0:
            metrics.zero_results.inc()
        logged = normalise_query(q)
        if state.log is not None and (logged or subject):
            data["search_id"] = search_id = new_search_id()
            state.log.record(
                "search",
                q=logged,
                subject=subject or None,
                page=page,
                total=results.total,
                hits=len(results.hits),
                suggestion=results.suggestion,
                ms=round((time.perf_counter() - started) * 1000, 2),
                gen=live.generation,
                top=results.hits[0].subject if results.hits else None,
                typing=FLAGS[typing],
                id=search_id,
                limit=limit,
                shown=[hit.url for hit in results.hits],
            )
        return _JSON(data, headers={"Cache-Control": "no-cache"})

    @app.get("/suggest", summary="Completions of the query's last word", response_model=Completions)
    def suggest(
        q: Annotated[str, Query(max_length=config.max_query_chars)] = "",
        limit: Annotated[int, limit(MAX_COMPLETIONS, "Most completions to return")] = 8,
    ) -> Response:
        answer = _answer(state.current().complete, q, limit=limit).to_dict()
        return _JSON(answer, headers={"Cache-Control": "no-cache"})

    @app.get(
        "/related",
        summary="The pages most like one page (never itself nor its twins)",
        response_model=Related,
        responses={404: {"model": ErrorBody, "description": "No page with this url"}},
    )
    def related(
        url: Annotated[
            str,
            Query(
                min_length=1,
                max_length=MAX_URL_CHARS,
                description="The page's url, as its front matter has it",
            ),
        ],
        limit: Annotated[int, limit(config.max_limit, "Most pages to return")] = 5,
        subject: Subject = "",
    ) -> Response:
        hits = _answer(state.current().related, url, limit=limit, subject=subject or None)
        answer = {"url": url, "hits": [hit.to_dict() for hit in hits]}
        return _JSON(answer, headers={"Cache-Control": "no-cache"})

    @app.get(
        "/health",
        summary="Index generation and document count",
        response_model=Health,
        responses={503: {"model": ErrorBody, "description": "The index cannot be read"}},
    )
    def health() -> Response:
        facts = _answer(state.current().stats)
        answer = {
            "status": "ok",
            "documents": facts.documents,
            "generation": facts.generation,
            "built_at": facts.built_at,
            "schema_version": facts.schema_version,
            "version": __version__,
        }
        return _JSON(answer, headers={"Cache-Control": "no-cache"})


def _click_route(app: FastAPI, config: ServerConfig, state: _State, metrics: ServerMetrics) -> None:
    """POST /click, the search page's beacon."""
    click_body = click_model(config.max_query_chars, config.max_limit * config.max_page)
    click_schema = {"$ref": "#/components/schemas/Click"}

    @app.post(
        "/click",
        summary="Report which result a visitor opened (for the query report)",
        description="What the search page's beacon sends. No cookies are read or set and "
        "nothing about the visitor is recorded.",
        status_code=204,
        response_class=Response,
        responses={
            400: {"model": ErrorBody, "description": "Invalid body"},
            404: {"model": ErrorBody, "description": "No page with this url is in the index"},
            413: {"model": ErrorBody, "description": "The body is too long"},
        },
        # The beacon sends text/plain (no preflight): the body is read and validated by hand
        # against the same model the document declares for both media types.
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": click_schema},
                    "text/plain": {"schema": click_schema},
                },
            }
        },
    )
    async def click(request: Request) -> Response:
        body = await _read_limited(request, MAX_CLICK_BYTES)
        if body is None:
            return _error(413, f"the body is over {MAX_CLICK_BYTES} bytes")
        try:
            report = validate_click(click_body, body)
        except ValueError as exc:
            return _error(400, *exc.args)
        report = {"q": normalise_query(report["q"]), "url": report["url"],
                  "rank": report["rank"], "id": report["search_id"]}  # fmt: skip
        try:
            known = await run_in_threadpool(state.current().has_page, report["url"])
        except QuickSearchError as exc:
            return _error(503, exc.message, exc.hint)
        if not known:
            return _error(404, "no page with this url in the index", "send a url a search returned")
        metrics.clicks.inc()
        if state.log is not None:
            state.log.record("click", **report)
        return Response(status_code=204, headers={"Cache-Control": "no-store"})

    app.state.click_schema = click_body.model_json_schema()


def _face_routes(app: FastAPI, config: ServerConfig, state: _State, metrics: ServerMetrics) -> None:
    """What is not JSON: the search page, Prometheus metrics and the OpenAPI document."""
    page_html = _page_html(config)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
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

    widget = resources.files("quicksearch").joinpath("web/widget.js").read_bytes()

    @app.get("/widget.js", include_in_schema=False)
    async def widget_js() -> Response:
        # Loaded by other sites' pages (a classic script needs no CORS); cached for an hour.
        return Response(
            widget,
            headers={
                "Content-Type": "text/javascript; charset=utf-8",
                "Cache-Control": "public, max-age=3600",
                "Cross-Origin-Resource-Policy": "cross-origin",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.get(
        "/metrics",
        summary="Prometheus metrics (text exposition format)",
        response_class=Response,
        responses={
            200: {
                "description": "Requests by endpoint and status, latency histogram, zero-result "
                "searches, clicks, documents and age of the live index",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics_text() -> Response:
        try:
            live = state.current()
            body = await run_in_threadpool(metrics.exposition, live.stats, live.cache_sizes)
        except QuickSearchError as exc:
            return _error(503, exc.message, exc.hint)
        return Response(body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-cache"})

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> Response:
        return _JSON(app.state.openapi)


def _answer(work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``work(*args, **kwargs)``, its errors as HTTP answers (raised, for the handlers)."""
    try:
        return work(*args, **kwargs)
    except InvalidArgumentError as exc:
        raise _Answer(400, exc.message, exc.hint) from None
    except PageNotFoundError as exc:
        raise _Answer(404, exc.message, exc.hint) from None
    except QuickSearchError as exc:
        _log.error("search failed: %s", exc)
        raise _Answer(503, exc.message, exc.hint) from None


class _Answer(HTTPException):
    """An error answer with a hint (``{"error", "hint"}``)."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(status, message)
        self.hint = hint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    hint = getattr(exc, "hint", "") or "see /openapi.json for the endpoints"
    answer = _error(status, str(detail), hint)
    # A 405 names the methods the path takes (``Allow``, as RFC 9110 asks).
    answer.headers.update(getattr(exc, "headers", None) or {})
    return answer


async def _internal_error(request: Request, exc: Exception) -> Response:
    _log.exception("unexpected error on %s", request.url.path)
    return _error(500, "internal error", "this is a bug in quicksearch")


class _Instrumented:
    """ASGI middleware: counts each answer by endpoint and status, and times it. It also
    answers a HEAD request as its GET without the body, as Starlette's own routes do (FastAPI's
    declare GET alone); one middleware rather than two, as each layer costs every request."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe(scope["path"], status, time.perf_counter() - started)


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


def openapi(config: ServerConfig) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API with ``config``'s limits (served at ``/openapi.json``),
    written by FastAPI from the endpoints' declarations."""
    document: dict[str, Any] = create_app(config).state.openapi
    return document


#: The description for the default limits.
OPENAPI = openapi(ServerConfig())
