"""HTTP face of a :class:`~quicksearch.searcher.Searcher`: a JSON API and a search page.

Endpoints (see :data:`OPENAPI` for the full description, served at ``/openapi.json``):

- ``GET /search?q=&page=&limit=&subject=``: the same JSON object as ``quicksearch search --json``;
- ``GET /suggest?q=&limit=``: completions of the last word, for an autocomplete list;
- ``GET /related?url=&limit=&subject=``: the pages most like one page (404 for an unknown url);
- ``GET /health``: index generation and document count, for monitoring;
- ``GET /``: a self-contained search-as-you-type page.

One Searcher serves every request of a process; a background task switches it to a new index
generation (a nightly rebuild) while requests keep being answered from the old one.
Bad input gets a 400 with ``{"error": ..., "hint": ...}``; nothing a client sends causes a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import json
import logging
import os
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

from . import __version__
from .config import DEFAULT_SETTINGS, Settings
from .errors import InvalidArgumentError, PageNotFoundError, QuickSearchError
from .searcher import Searcher

__all__ = ["OPENAPI", "ServerConfig", "create_app", "openapi"]

_log = logging.getLogger("quicksearch.server")

MAX_SUBJECT_CHARS = 100
MAX_COMPLETIONS = 20
MAX_URL_CHARS = 2000

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
    if raw is None or raw == "":
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
    state: dict[str, Searcher] = {}

    def current() -> Searcher:
        return state["searcher"]

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
        q = _query_param(params, config)
        limit = _int_param(params, "limit", 10, 1, config.max_limit)
        page = _int_param(params, "page", 1, 1, config.max_page)
        subject = params.get("subject") or None
        if subject and len(subject) > MAX_SUBJECT_CHARS:
            raise InvalidArgumentError(f"subject must be at most {MAX_SUBJECT_CHARS} characters")
        return current().search(q, limit=limit, page=page, subject=subject).to_dict()

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
        subject = params.get("subject") or None
        if subject and len(subject) > MAX_SUBJECT_CHARS:
            raise InvalidArgumentError(f"subject must be at most {MAX_SUBJECT_CHARS} characters")
        hits = current().related(url, limit=limit, subject=subject)
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
        return _error(status, str(detail), "see /openapi.json for the endpoints")

    async def internal_error(request: Request, exc: Exception) -> Response:
        _log.exception("unexpected error on %s", request.url.path)
        return _error(500, "internal error", "this is a bug in quicksearch")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = searcher is None
        state["searcher"] = searcher or Searcher(config.index_dir, settings=settings)
        await run_in_threadpool(current().warm)
        task = asyncio.create_task(_follow_rebuilds(current(), config.refresh_seconds))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if own:
                current().close()

    middleware = []
    if config.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.cors_origins),
                allow_methods=["GET"],
                max_age=600,
            )
        )
    return Starlette(
        routes=[
            Route("/", page, methods=["GET"]),
            Route("/search", search, methods=["GET"]),
            Route("/suggest", suggest, methods=["GET"]),
            Route("/related", related, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )


async def _follow_rebuilds(searcher: Searcher, every: float) -> None:
    """Switch to a new generation soon after a rebuild, before a request has to."""
    while True:
        await asyncio.sleep(every)
        try:
            if await run_in_threadpool(searcher.refresh):
                _log.info("now serving a new index generation")
        except QuickSearchError as exc:
            _log.warning("index refresh failed: %s", exc)


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
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ[CONFIG_ENV] = config.to_env()
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
    if workers == 1:
        uvicorn.Server(uv_config).run()
        return
    sock = uv_config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # uvicorn's shared socket has proto 0, so asyncio leaves Nagle on for the connections
        # it accepts, and keep-alive responses stall ~40 ms on delayed ACKs. Say it is TCP.
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    with contextlib.suppress(KeyboardInterrupt):
        Multiprocess(uv_config, sockets=[sock]).run()


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
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
