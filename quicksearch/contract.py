"""The HTTP API's contract, declared once: pydantic models of what the server answers and of
the /click body, the parameters' limits, and how a validation error becomes a 400.

``server.py`` declares each endpoint's parameters with these limits (FastAPI ``Query``):
FastAPI writes ``/openapi.json`` from that declaration, and a pydantic model built from the
same signature validates each request (``server._served``); the
response models below are the documented bodies (the endpoints build them as plain dicts, as
``SearchResults.to_dict`` does, unvalidated on the way out; schemathesis's response checks in
``tests/test_contract.py`` hold the two together).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

__all__ = [
    "MAX_CLICK_BYTES",
    "MAX_COMPLETIONS",
    "MAX_SUBJECT_CHARS",
    "MAX_URL_CHARS",
    "Completions",
    "ErrorBody",
    "Health",
    "Hit",
    "Related",
    "SearchResultsBody",
    "click_model",
    "describe_errors",
    "finish_openapi",
    "validate_click",
]

MAX_SUBJECT_CHARS = 100
MAX_COMPLETIONS = 20
MAX_URL_CHARS = 2000
#: Largest /click body accepted, in bytes: room for any body the document declares valid, its
#: strings written as JSON escapes (12 bytes for a character outside the BMP), and no more.
MAX_CLICK_BYTES = 65_536
#: Values of a flag parameter (``typing``).
Flag = Literal["1", "0", "true", "false"]
FLAGS = {"1": True, "true": True, "0": False, "false": False}


class ErrorBody(BaseModel):
    """Every error answer: what is wrong, and what to do instead."""

    error: str
    hint: str = ""


class Hit(BaseModel):
    url: str
    title: str = Field(description="The question, plain text")
    title_html: str = Field(description="Escaped title with <mark> around matches")
    subject: str
    date: str | None = Field(default=None, json_schema_extra={"format": "date"})
    score: float
    snippet: str = Field(description="Escaped passage with <mark> around matches")


class SearchResultsBody(BaseModel):
    query: str
    total: int = Field(
        description="Matching questions; a lower bound (at least 10,000) when total_is_exact "
        "is false"
    )
    total_is_exact: bool = True
    page: int
    limit: int = 10
    pages: int = 0
    suggestion: str | None = Field(default=None, description="A corrected query (did you mean)")
    facets: dict[str, int] = Field(description="Matching pages per subject")
    hits: list[Hit]
    search_id: str = Field(
        default="",
        description="Names this search for /click (only when the server keeps a query log)",
    )


class Completions(BaseModel):
    query: str
    prefix: str
    completions: list[str]
    queries: list[str]


class Related(BaseModel):
    url: str
    hits: list[Hit]


class Health(BaseModel):
    status: str
    documents: int
    generation: str
    built_at: str = ""
    schema_version: int = 0
    version: str = ""


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer: 3 and 3.0 are one; true and "3" are not (pydantic's lax mode
    would take them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


def click_model(max_query_chars: int, highest_rank: int) -> type[BaseModel]:
    """The /click body with a server's limits: which result a visitor opened."""

    class Click(BaseModel):
        q: Annotated[str, Field(max_length=max_query_chars)]
        url: Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS)]
        rank: Annotated[
            int,
            Field(ge=1, le=highest_rank, description="Position of the opened result, 1 = first"),
            BeforeValidator(_whole_number),
        ]
        search_id: Annotated[
            str | None,
            Field(
                default=None,
                pattern="^[0-9a-f]{1,32}$",
                description="The search_id of the search that showed it",
            ),
        ] = None

    return Click


_HINTS = {
    "q": "shorten the query",
    "url": "pass url=/learn/...",
    "typing": "typing=1",
    "body": 'send {"q": ..., "url": ..., "rank": 1}',
}


def describe_errors(errors: list[Any]) -> tuple[str, str]:
    """The message and hint of a 400 for pydantic's (or FastAPI's) validation ``errors``: the
    first error, named by the parameter or body field it is about."""
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("query", "body")]
    name = loc[-1] if loc else "body"
    kind = first.get("type", "")
    ctx = first.get("ctx") or {}
    if kind == "missing":
        message = f"{name} is required"
    elif kind in ("int_parsing", "int_from_float", "int_type"):
        message = f"{name} must be a whole number"
    elif kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        side = "at least" if kind == "greater_than_equal" else "at most"
        message = f"{name} must be {side} {bound}, not {first.get('input')}"
    elif kind in ("string_too_long", "string_too_short"):
        message = f"{name} must be {_length_rule(kind, ctx)}"
    elif kind == "value_error":
        message = f"{name} {ctx.get('error', 'is invalid')}"
    elif kind == "string_pattern_mismatch" and name == "search_id":
        message = "search_id must be the search_id a search returned"
    elif kind == "literal_error":
        message = f"{name} must be one of {ctx.get('expected', '')}"
    elif kind in ("json_invalid", "model_type", "model_attributes_type", "dict_type"):
        name, message = "body", "the body must be a JSON object"
    else:
        message = f"{name}: {str(first.get('msg', 'invalid')).lower()}"
    return message, _HINTS.get(name, "see /openapi.json")


def _length_rule(kind: str, ctx: dict[str, Any]) -> str:
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if ctx.get("min_length") == 1:
        return "given, not empty"
    return f"at least {ctx.get('min_length')} characters"


def validate_click(model: type[BaseModel], body: bytes) -> dict[str, Any]:
    """The /click body as a dict, or ValueError with the 400's message and hint."""
    try:
        return model.model_validate_json(body).model_dump()
    except ValidationError as exc:
        raise ValueError(*describe_errors(exc.errors())) from None


def finish_openapi(document: dict[str, Any]) -> None:
    """FastAPI's document, told the truth about errors: a parameter that fails validation is a
    400 with :class:`ErrorBody` (FastAPI's default says 422)."""
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _error_response("Invalid parameter", error))
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)


def _error_response(description: str, schema: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
