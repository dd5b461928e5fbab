"""The HTTP API in-process (Starlette's test client): every endpoint, limit and hostile input."""

from __future__ import annotations

import gc
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient

from quicksearch import build_index
from quicksearch.server import OPENAPI, ServerConfig, create_app

from .conftest import FIXTURES, write_page

# Markup allowed in any string of a response: the highlight tags, nothing else.
OTHER_MARKUP = re.compile(r"<(?!/?mark>)")


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    index_dir = tmp_path_factory.mktemp("server") / "ix"
    build_index(FIXTURES / "pages", index_dir, jobs=1)
    app = create_app(ServerConfig(index_dir=str(index_dir), refresh_seconds=0.05))
    with TestClient(app) as test_client:
        yield test_client


def test_search_returns_the_cli_json_shape(client: TestClient) -> None:
    response = client.get("/search", params={"q": "regulated exocytosis"})
    assert response.status_code == 200
    data = response.json()
    assert set(data) >= {"query", "total", "page", "suggestion", "facets", "hits", "limit"}
    first = data["hits"][0]
    assert first["url"] == "/learn/biology/questions/what-triggers-regulated-exocytosis"
    assert set(first) == {"url", "title", "title_html", "subject", "date", "score", "snippet"}
    assert "<mark>" in first["snippet"] and "<mark>" in first["title_html"]


def test_paging_limit_and_subject(client: TestClient) -> None:
    everything = client.get("/search", params={"q": "acid OR exocytosis", "limit": 1}).json()
    assert len(everything["hits"]) == 1 and everything["total"] >= 2
    second = client.get("/search", params={"q": "acid OR exocytosis", "limit": 1, "page": 2})
    assert second.json()["hits"][0]["url"] != everything["hits"][0]["url"]
    chemistry = client.get("/search", params={"q": "acid OR exocytosis", "subject": "CHEMISTRY"})
    data = chemistry.json()
    assert data["hits"] and {h["subject"] for h in data["hits"]} == {"Chemistry"}
    assert data["facets"] == everything["facets"]  # facets ignore the filter
    assert data["total"] == data["facets"]["Chemistry"]


def test_unknown_subject_is_an_empty_result(client: TestClient) -> None:
    response = client.get("/search", params={"q": "acid", "subject": "Underwater Basket Weaving"})
    assert response.status_code == 200
    assert response.json()["hits"] == [] and response.json()["total"] == 0


def test_suggest_completes_the_last_word(client: TestClient) -> None:
    data = client.get("/suggest", params={"q": "regulated exocy"}).json()
    assert data["prefix"] == "exocy"
    assert "exocytosis" in data["completions"]
    assert "regulated exocytosis" in data["queries"]
    # A finished word (trailing space) has nothing to complete.
    assert client.get("/suggest", params={"q": "exocy "}).json()["completions"] == []
    assert client.get("/suggest", params={"q": ""}).json()["completions"] == []


def test_health_reports_generation_and_count(client: TestClient) -> None:
    data = client.get("/health").json()
    assert data["status"] == "ok"
    assert data["documents"] == 7  # 8 fixture pages, one of them no_index
    assert data["generation"].startswith("gen-")


def test_openapi_describes_every_endpoint(client: TestClient) -> None:
    data = client.get("/openapi.json").json()
    assert data == OPENAPI
    assert set(data["paths"]) == {
        "/search",
        "/suggest",
        "/related",
        "/click",
        "/health",
        "/metrics",
    }
    assert data["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/search", {"q": "x" * 501}),
        ("/search", {"q": "acid", "limit": "10000"}),
        ("/search", {"q": "acid", "limit": "0"}),
        ("/search", {"q": "acid", "limit": "ten"}),
        ("/search", {"q": "acid", "page": "-1"}),
        ("/search", {"q": "acid", "page": "0"}),
        ("/search", {"q": "acid", "page": "99999999999999999999999"}),
        ("/search", {"q": "acid", "subject": "s" * 101}),
        ("/suggest", {"q": "x" * 501}),
        ("/suggest", {"q": "x", "limit": "500"}),
    ],
)
def test_bad_parameters_get_a_400_that_says_why(
    client: TestClient, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    "raw_query",
    [
        "q=%ff%fe%fd",  # not UTF-8
        "q=%E2%82",  # truncated UTF-8 sequence
        "q=%",  # broken percent-encoding
        "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "q=acid&q=base",
        "q=%00%01",
        "q=subject%3A%22",
        "q=-acid",
        "q=%F0%9F%99%82%F0%9F%99%82",
    ],
)
def test_hostile_queries_get_a_normal_answer_without_markup(
    client: TestClient, raw_query: str
) -> None:
    for path in ("/search", "/suggest"):
        response = client.get(f"{path}?{raw_query}")
        assert response.status_code == 200, response.text
        assert not any(OTHER_MARKUP.search(s) for s in strings(response.json()))


def test_unknown_paths_and_methods_are_json_4xx(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").json()["error"]
    assert client.post("/search", data={"q": "acid"}).status_code == 405


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(max_size=600), page=st.text(max_size=4), limit=st.text(max_size=4))
def test_no_request_causes_a_server_error(
    client: TestClient, q: str, page: str, limit: str
) -> None:
    for path in ("/search", "/suggest"):
        response = client.get(path, params={"q": q, "page": page, "limit": limit})
        assert response.status_code in (200, 400)
        assert not any(OTHER_MARKUP.search(s) for s in strings(response.json()))


def test_page_is_self_contained(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    body = response.text
    assert 'id="q"' in body
    # No external assets: nothing is loaded from another origin.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", body)


def test_the_widget_script_is_served_for_other_sites(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert 'customElements.define("quick-search"' in response.text
    assert client.head("/widget.js").status_code == 200


def test_link_base_is_escaped_into_the_page(tmp_path: Path) -> None:
    index_dir = tmp_path / "ix"
    build_index(FIXTURES / "pages", index_dir, jobs=1)
    config = ServerConfig(index_dir=str(index_dir), link_base='https://x.org/</script><b>"')
    with TestClient(create_app(config)) as test_client:
        body = test_client.get("/").text
    assert "</script><b>" not in body
    assert "https://x.org/\\u003c/script\\u003e\\u003cb\\u003e" in body


def test_cors_is_off_by_default_and_configurable(client: TestClient, tmp_path: Path) -> None:
    origin = {"Origin": "https://site.example"}
    assert "access-control-allow-origin" not in client.get("/search?q=acid", headers=origin).headers
    index_dir = tmp_path / "ix"
    build_index(FIXTURES / "pages", index_dir, jobs=1)
    config = ServerConfig(index_dir=str(index_dir), cors_origins=("https://site.example",))
    with TestClient(create_app(config)) as cors_client:
        allowed = cors_client.get("/search?q=acid", headers=origin)
        other = cors_client.get("/search?q=acid", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://site.example"
    assert "access-control-allow-origin" not in other.headers


def test_a_rebuild_is_served_without_a_restart(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(FIXTURES / "pages", pages)
    index_dir = tmp_path / "ix"
    build_index(pages, index_dir, jobs=1)
    config = ServerConfig(index_dir=str(index_dir), refresh_seconds=0.05)
    gc.unfreeze()
    with TestClient(create_app(config)) as test_client:
        # The index's objects are kept out of full collections (their pauses reach 60 ms).
        assert gc.get_freeze_count() > 0
        before = test_client.get("/health").json()
        assert test_client.get("/search", params={"q": "zebrafish"}).json()["total"] == 0
        write_page(
            pages,
            "biology/zebrafish.md",
            url="/learn/biology/questions/zebrafish-regeneration",
            question="How do zebrafish regenerate their fins?",
            answer="Zebrafish regrow fins from a blastema of dedifferentiated cells.",
            page_id=99,
        )
        build_index(pages, index_dir, jobs=1)
        found = test_client.get("/search", params={"q": "zebrafish"}).json()
        after = test_client.get("/health").json()
    assert found["hits"][0]["url"] == "/learn/biology/questions/zebrafish-regeneration"
    assert after["documents"] == before["documents"] + 1
    assert after["generation"] != before["generation"]


# --- query log, clicks and metrics ----------------------------------------------------------

KNOWN_URL = "/learn/biology/questions/what-triggers-regulated-exocytosis"


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    root = tmp_path_factory.mktemp("logged")
    build_index(FIXTURES / "pages", root / "ix", jobs=1)
    log = root / "queries.jsonl"
    app = create_app(ServerConfig(index_dir=str(root / "ix"), query_log=str(log)))
    with TestClient(app) as test_client:
        yield test_client, log


def _events(log: Path, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        lines = log.read_text("utf-8").splitlines() if log.exists() else []
        if len(lines) >= count or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.02)


def _metric(client: TestClient, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_searches_and_clicks_are_logged_without_the_visitor(
    logged: tuple[TestClient, Path],
) -> None:
    client, log = logged
    before = len(_events(log, 0))
    found = client.get("/search", params={"q": "  Regulated EXOCYTOSIS ", "typing": "1"}).json()
    client.get("/search", params={"q": "quokkaberry zzxqv"})
    headers = {"User-Agent": "secret-agent/1.0", "Cookie": "session=abc123"}
    clicked = client.post(
        "/click",
        json={"q": "regulated exocytosis", "url": KNOWN_URL, "rank": 1,
              "search_id": found["search_id"]},
        headers=headers,
    )  # fmt: skip
    assert clicked.status_code == 204 and not clicked.content
    assert "set-cookie" not in clicked.headers
    events = _events(log, before + 3)[before:]
    search, miss, click = events
    assert search["ev"] == "search" and search["q"] == "regulated exocytosis"
    assert search["typing"] is True and search["total"] >= 1 and search["page"] == 1
    assert search["id"] == found["search_id"] and search["gen"].startswith("gen-")
    assert miss["total"] == 0 and miss["hits"] == 0
    assert click == {**click, "ev": "click", "url": KNOWN_URL, "rank": 1, "id": found["search_id"]}
    raw = log.read_text("utf-8")
    for secret in ("testclient", "secret-agent", "abc123", "127.0.0.1"):
        assert secret not in raw


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"null",
        b'{"q": "x", "url": "/nope", "rank": 1}',
        b'{"q": "x", "url": "' + KNOWN_URL.encode() + b'", "rank": 0}',
        b'{"q": "x", "url": "' + KNOWN_URL.encode() + b'", "rank": true}',
        b'{"q": "x", "url": "' + KNOWN_URL.encode() + b'", "rank": "1"}',
        b'{"q": 5, "url": "' + KNOWN_URL.encode() + b'", "rank": 1}',
        b'{"q": "x", "url": "' + KNOWN_URL.encode() + b'", "rank": 1, "search_id": "<b>"}',
        b'{"q": "x", "url": ["a"], "rank": 1}',
        b'{"q": "' + b"x" * 600 + b'", "url": "/a", "rank": 1}',
        b"\xff\xfe{",
        b"{" * 5000,
        b'{"q": "x", "url": "/a", "rank": 1, "pad": "' + b"x" * 5000 + b'"}',
    ],
)
def test_junk_clicks_get_a_4xx(logged: tuple[TestClient, Path], body: bytes) -> None:
    client, _ = logged
    response = client.post("/click", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert response.json()["error"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(st.binary(max_size=300), st.dictionaries(st.text(max_size=8), st.none()
       | st.booleans() | st.integers() | st.text(max_size=50), max_size=5).map(
           lambda d: json.dumps(d).encode())))  # fmt: skip
def test_no_click_causes_a_server_error(logged: tuple[TestClient, Path], body: bytes) -> None:
    client, _ = logged
    assert client.post("/click", content=body).status_code in (204, 400, 404, 413)


def test_metrics_count_requests_misses_and_clicks(logged: tuple[TestClient, Path]) -> None:
    client, _ = logged
    searches = _metric(client, "quicksearch_http_requests_total", endpoint="/search", status="200")
    misses = _metric(client, "quicksearch_zero_result_searches_total")
    clicks = _metric(client, "quicksearch_clicks_total")
    for q in ("acid", "exocytosis", "zzxqv quokkaberry", "xqzvbnm"):
        client.get("/search", params={"q": q})
    client.get("/search", params={"q": "acid", "limit": "0"})  # a 400
    client.post("/click", json={"q": "acid", "url": KNOWN_URL, "rank": 2})
    client.post("/click", content=b"junk")
    after = _metric(client, "quicksearch_http_requests_total", endpoint="/search", status="200")
    assert after - searches == 4
    assert _metric(client, "quicksearch_zero_result_searches_total") - misses == 2
    assert _metric(client, "quicksearch_clicks_total") - clicks == 1
    assert _metric(client, "quicksearch_http_requests_total", endpoint="/search", status="400") >= 1
    assert _metric(client, "quicksearch_http_requests_total", endpoint="/click", status="400") >= 1
    assert _metric(client, "quicksearch_http_request_duration_seconds_count", endpoint="/search")
    assert _metric(client, "quicksearch_index_documents") == 7
    assert 0 <= _metric(client, "quicksearch_index_age_seconds") < 3600
    # Unknown paths share one label value, so a scanner cannot blow up the series count.
    client.get("/wp-admin.php")
    assert _metric(client, "quicksearch_http_requests_total", endpoint="other", status="404") >= 1


def test_without_a_log_nothing_is_recorded(client: TestClient) -> None:
    data = client.get("/search", params={"q": "acid"}).json()
    assert "search_id" not in data
    assert client.post("/click", json={"q": "acid", "url": KNOWN_URL, "rank": 1}).status_code == 204
