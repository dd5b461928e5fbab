"""The search page in a real browser: `quicksearch serve` on 127.0.0.1, headless Chromium.

Needs Debian's ``chromium`` and the ``playwright`` package (it drives the system browser; it
downloads nothing). Skipped when either is missing, unless QUICKSEARCH_BROWSER_TESTS=require
(CI sets it), where their absence fails. The screenshot goes to $QUICKSEARCH_ARTIFACTS
(default: artifacts/ at the top of the repo, which git ignores).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from quicksearch import build_index

from .conftest import CLI, write_page

REQUIRED = os.environ.get("QUICKSEARCH_BROWSER_TESTS") == "require"
CHROMIUM = os.environ.get("QUICKSEARCH_CHROMIUM") or shutil.which("chromium") or ""
ARTIFACTS = Path(
    os.environ.get("QUICKSEARCH_ARTIFACTS") or Path(__file__).parent.parent / "artifacts"
)

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

_missing = [
    name for name, ok in (("chromium", CHROMIUM), ("playwright", sync_playwright)) if not ok
]
if _missing and REQUIRED:
    raise RuntimeError(f"browser tests required but missing: {', '.join(_missing)}")
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"missing: {', '.join(_missing)}")

# As the workplace's probe starts it: no sandbox as root, and no background network chatter.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ENERGY_PAGES = [
    (
        "physics",
        "Physics",
        "kinetic-energy",
        "What is kinetic energy?",
        "Kinetic energy is the energy of motion, one half of mass times speed squared.",
    ),
    (
        "physics",
        "Physics",
        "potential-energy",
        "What is gravitational potential energy?",
        "Potential energy is stored energy of position: mass times g times height.",
    ),
    (
        "chemistry",
        "Chemistry",
        "activation-energy",
        "What is activation energy?",
        "Activation energy is the minimum energy reactants need to react; catalysts lower it.",
    ),
    (
        "biology",
        "Biology",
        "atp-energy",
        "How does ATP store energy in cells?",
        "ATP stores energy in phosphate bonds; mitochondria make most of a cell's ATP.",
    ),
]


#: The query log of each server the fixture started, by its address.
QUERY_LOGS: dict[str, Path] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    pages = root / "pages"
    shutil.copytree(Path(__file__).parent / "fixtures" / "pages", pages)
    for i, (folder, subject, slug, question, answer) in enumerate(ENERGY_PAGES):
        write_page(
            pages,
            f"{folder}/{slug}.md",
            url=f"/learn/{folder}/questions/{slug}",
            question=question,
            answer=answer,
            subject=subject,
            page_id=100 + i,
        )
    for i in range(12):  # more than a page of results
        write_page(
            pages,
            f"physics/lantern-{i:02d}.md",
            url=f"/learn/physics/questions/lantern-{i:02d}",
            question=f"How bright is paper lantern number {i}?",
            answer=f"Paper lantern {i} gives a soft light through its paper shade.",
            subject="Physics",
            page_id=200 + i,
        )
    index_dir = root / "ix"
    build_index(pages, index_dir, jobs=1)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    QUERY_LOGS[base] = root / "queries.jsonl"
    process = subprocess.Popen(
        [
            *CLI,
            "serve",
            "--index",
            str(index_dir),
            "--port",
            str(port),
            "--link-base",
            base,
            "--query-log",
            str(QUERY_LOGS[base]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_serving(process, base)
        yield base
    finally:
        stop(process)


def wait_until_serving(process: subprocess.Popen[str], base: str) -> None:
    """Wait until the server at ``base`` answers /health (fail with its output if it dies)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"quicksearch serve did not start:\n{output}")
            time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, server: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    yield page
    context.close()
    assert errors == [], errors


def test_type_filter_and_follow_did_you_mean(page: Page) -> None:
    # Search as you type: an unfinished last word already finds pages, words marked.
    page.locator("#q").press_sequentially("energ", delay=60)
    hits = page.locator("#results .hit")
    expect(hits).to_have_count(4)
    expect(hits.first.locator("a.title mark")).to_have_text("energy")
    expect(page.locator("#results .snippet mark").first).to_be_visible()
    expect(page.locator("#status")).to_contain_text("of 4 results")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-page.png"), full_page=True)

    # Subject facet: counts shown, a click filters, the other subjects stay offered.
    physics = page.locator("#facet-list button[data-subject='Physics']")
    expect(physics).to_contain_text("2")
    physics.click()
    expect(hits).to_have_count(2)
    for subject in page.locator("#results .meta").all_inner_texts():
        assert subject.startswith("Physics")
    expect(physics).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#facet-list button[data-subject='Chemistry']")).to_be_visible()
    page.locator("#facet-list button[data-subject='']").click()
    expect(hits).to_have_count(4)
    # Every facet's count is the total its click gives.
    facets = page.locator("#facet-list button:not([data-subject=''])")
    shown = {
        facets.nth(i).get_attribute("data-subject"): facets.nth(i).locator(".count").inner_text()
        for i in range(facets.count())
    }
    for subject, count in shown.items():
        page.locator(f"#facet-list button[data-subject='{subject}']").click()
        expect(page.locator("#status")).to_contain_text(f"of {count} result")
        page.locator(f"#facet-list button[data-subject='{subject}']").click()  # back to all
    expect(hits).to_have_count(4)

    # "Did you mean": a misspelt word is corrected on click.
    page.locator("#q").fill("mitochondira")
    suggestion = page.locator("#did-you-mean")
    expect(suggestion).to_have_text("mitochondria")
    suggestion.click()
    expect(page.locator("#q")).to_have_value("mitochondria")
    expect(page.locator("#did-you-mean")).to_have_count(0)
    expect(hits.first.locator("a.title")).to_contain_text("mitochondria")
    page.screenshot(path=str(ARTIFACTS / "search-page-did-you-mean.png"), full_page=True)


def test_keyboard_opens_the_chosen_result(page: Page, server: str) -> None:
    page.locator("#q").fill("activation energy")
    first = page.locator("#results .hit").first
    expect(first.locator("a.title")).to_contain_text("activation energy")
    page.locator("#q").press("ArrowDown")
    expect(first).to_have_class("hit active")
    page.locator("#q").press("Enter")
    page.wait_for_url(server + "/learn/chemistry/questions/activation-energy")


def test_pagination(page: Page) -> None:
    page.locator("#q").fill("paper lantern")
    hits = page.locator("#results .hit")
    expect(hits).to_have_count(10)
    expect(page.locator("#page-info")).to_have_text("Page 1 of 2")
    expect(page.locator("#prev")).to_be_disabled()
    first_page = hits.first.locator("a.title").inner_text()
    page.locator("#next").click()
    expect(hits).to_have_count(2)
    expect(page.locator("#page-info")).to_have_text("Page 2 of 2")
    expect(page.locator("#next")).to_be_disabled()
    assert first_page not in page.locator("#results").inner_text()
    assert "page=2" in page.url  # the address keeps the page, so it can be shared
    page.locator("#prev").click()
    expect(hits).to_have_count(10)


def test_empty_and_error_states(page: Page) -> None:
    page.locator("#q").fill("zzxqv quokkaberry")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("No pages match")
    page.route("**/search?*", lambda route: route.fulfill(status=503, body="{}"))
    page.locator("#q").fill("energy")
    expect(page.locator("#error")).to_be_visible()
    page.unroute("**/search?*")
    page.locator("#retry").click()
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#results .hit").first).to_be_visible()


def test_results_never_render_markup_from_the_index(page: Page, server: str) -> None:
    # A query full of markup is shown as text, and no element but <mark> appears in results.
    page.locator("#q").fill('<img src=x onerror="window.hacked=1"> energy')
    expect(page.locator("#results .hit").first).to_be_visible()
    assert page.evaluate("window.hacked") is None
    tags = page.evaluate(
        "[...document.querySelectorAll('#results a.title *, #results .snippet *')]"
        ".map(e => e.tagName)"
    )
    assert set(tags) <= {"MARK"}


def test_the_opened_result_is_reported_to_the_query_log(page: Page, server: str) -> None:
    log = QUERY_LOGS[server]
    page.locator("#q").press_sequentially("activation", delay=60)
    first = page.locator("#results .hit a.title").first
    expect(first).to_contain_text("activation energy")
    first.click()
    target = "/learn/chemistry/questions/activation-energy"
    page.wait_for_url(server + target)  # the beacon outlives the page that sent it
    deadline = time.monotonic() + 10
    while True:
        events = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
        clicks = [e for e in events if e["ev"] == "click" and e["q"] == "activation"]
        if clicks or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(clicks) == 1, events
    click = clicks[0]
    assert click["url"] == target and click["rank"] == 1
    searches = {e["id"]: e for e in events if e["ev"] == "search"}
    assert searches[click["id"]]["q"] == "activation"
    assert searches[click["id"]]["typing"] is True  # made by the page as the visitor typed
