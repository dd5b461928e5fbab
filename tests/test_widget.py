"""The embeddable ``<quick-search>`` widget in a real browser, on other sites' pages.

``quicksearch serve`` runs on one port with ``--cors-origin`` naming a second; a static
"third-party" site on that second port embeds the widget with the README's two lines. A third
port is an origin the server does not list. axe-core (axe-playwright-python) checks the open
widget and the server's own page, light and dark. Screenshots go to $QUICKSEARCH_ARTIFACTS.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quicksearch import build_index

from .conftest import CLI, write_page
from .test_browser import (  # noqa: F401 - browser: the page tests' Chromium fixture
    ARTIFACTS,
    ENERGY_PAGES,
    browser,
    free_port,
    pytestmark,  # the same skip (or requirement) as the page's tests
    stop,
    wait_until_serving,
)

try:
    from axe_playwright_python.sync_playwright import Axe
except ImportError:  # pragma: no cover - a test extra
    Axe = None  # type: ignore[assignment,misc]

#: WCAG 2.1 A and AA, and axe's best practices (a level-one heading is one).
WCAG_AA = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    }
}

SITE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A school's site</title>
<style>{style}</style></head>
<body><header><h1>Our school</h1>
<script src="{server}/widget.js" defer></script>
<quick-search {attributes}></quick-search>
</header><main><p>Welcome.</p></main></body></html>
"""

#: A site whose own CSS would break any widget that lived in its DOM.
HOSTILE = (
    "body * { display: none !important; color: transparent !important;"
    " font-size: 1px !important; } header, h1 { display: block !important; }"
    " mark { color: transparent !important; background: none !important; }"
    " input { visibility: hidden !important; }"
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The search server (with a query log) and two static sites, each on its own port."""
    root = tmp_path_factory.mktemp("widget")
    pages = root / "pages"
    shutil.copytree(Path(__file__).parent / "fixtures" / "pages", pages)
    for i, (folder, subject, slug, question, answer) in enumerate(ENERGY_PAGES):
        write_page(pages, f"{folder}/{slug}.md", url=f"/learn/{folder}/questions/{slug}",
                   question=question, answer=answer, subject=subject, page_id=100 + i)  # fmt: skip
    # Pages written to hurt: markup in the text, and a url that is a script.
    write_page(
        pages,
        "trap/zebra.md",
        url="javascript:alert(1)",
        subject="Biology",
        question="Why do zebra <b>stripes</b> <img src=x onerror=alert(1)> confuse flies?",
        answer="Zebra stripes <script>alert(1)</script> confuse the flies.",
        page_id=300,
    )
    build_index(pages, root / "ix", jobs=1)

    site_port, other_port, port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    site, other = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{other_port}"
    log = root / "queries.jsonl"
    server = subprocess.Popen(
        [*CLI, "serve", "--index", str(root / "ix"), "--port", str(port),
         "--cors-origin", site, "--query-log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    statics = []
    for name, static_port in (("site", site_port), ("other", other_port)):
        folder = root / name
        folder.mkdir()
        for page, style, attributes in (
            ("index.html", "", ""),
            ("hostile.html", HOSTILE, ""),
            ("custom.html", "", 'placeholder="Find a question" limit="3" shortcut="off"'),
        ):
            html = SITE.format(style=style, server=base, attributes=attributes)
            (folder / page).write_text(html, encoding="utf-8")
        handler = functools.partial(_Quiet, directory=str(folder))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", static_port), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        statics.append(httpd)
    try:
        wait_until_serving(server, base)
        yield {"server": base, "site": site, "other": other, "log": log}
    finally:
        for httpd in statics:
            httpd.shutdown()
            httpd.server_close()
        stop(server)


@pytest.fixture
def browser_page(browser: object) -> Iterator[object]:  # noqa: F811 - the fixture
    # bypass_csp: axe is injected into the server's own page, whose CSP allows only its script.
    context = browser.new_context(viewport={"width": 1000, "height": 800}, bypass_csp=True)  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], errors


def _type(page: object, text: str) -> None:
    box = page.locator("quick-search input")  # type: ignore[attr-defined]
    box.click()
    box.press_sequentially(text, delay=40)


def _axe(page: object) -> list[str]:
    assert Axe is not None, "axe-playwright-python is a test dependency"
    results = Axe().run(page, options={**WCAG_AA, "resultTypes": ["violations", "incomplete"]})
    found = [
        f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]
    ]
    # Contrast axe could not decide counts as a finding too, except for the host page's own
    # text that the open dropdown covers ("bgOverlap": axe cannot see under the panel).
    found += [
        f"{v['id']} (undecided): {n['target']} {[c.get('data') for c in n['any']]}"
        for v in results.response["incomplete"]
        if v["id"] == "color-contrast"
        for n in v["nodes"]
        if not any((c.get("data") or {}).get("messageKey") == "bgOverlap" for c in n["any"])
    ]
    return found


def test_two_lines_give_a_working_search_box_keyboard_only(
    browser_page: object, sites: dict[str, object]
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{sites['site']}/index.html")  # type: ignore[attr-defined]
    box = page.locator("quick-search input")  # type: ignore[attr-defined]
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    # The shortcut focuses the box from anywhere on the page.
    page.locator("main p").click()  # type: ignore[attr-defined]
    page.keyboard.press("/")  # type: ignore[attr-defined]
    expect(box).to_be_focused()
    page.keyboard.type("activaton energy", delay=40)  # type: ignore[attr-defined]
    options = page.locator("quick-search [role=option]")  # type: ignore[attr-defined]
    result = page.locator("quick-search [role=option][part~=result]").first  # type: ignore[attr-defined]
    expect(result.locator(".title mark").last).to_have_text("energy")
    expect(page.locator("quick-search [part~=suggestion]")).to_contain_text("activation energy")  # type: ignore[attr-defined]
    expect(box).to_have_attribute("aria-expanded", "true")
    listbox = page.locator("quick-search [role=listbox]")  # type: ignore[attr-defined]
    expect(box).to_have_attribute("aria-controls", listbox.get_attribute("id") or "")
    expect(page.locator("quick-search [role=status]")).to_contain_text("result")  # type: ignore[attr-defined]

    # The suggestion, chosen with the keyboard, searches for the corrected words.
    page.keyboard.press("ArrowDown")  # type: ignore[attr-defined]
    first_id = options.first.get_attribute("id")
    expect(box).to_have_attribute("aria-activedescendant", first_id or "")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")  # type: ignore[attr-defined]
    expect(options.last).to_have_attribute("aria-selected", "true")
    expect(options.last).to_contain_text("See all")
    page.keyboard.press("Home")  # type: ignore[attr-defined]
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).not_to_have_attribute("aria-activedescendant", first_id or "")

    # Down to the first result, Enter opens it on the site, and the click reaches the log.
    box.fill("activation energy")
    expect(page.locator("quick-search [part~=suggestion]")).to_have_count(0)  # type: ignore[attr-defined]
    expect(result.locator(".title")).to_contain_text("activation energy")
    while result.get_attribute("aria-selected") != "true":
        page.keyboard.press("ArrowDown")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    target = "/learn/chemistry/questions/activation-energy"
    page.wait_for_url(f"{sites['site']}{target}")  # type: ignore[attr-defined]
    log = sites["log"]
    assert isinstance(log, Path)
    deadline = time.monotonic() + 10
    while True:
        events = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
        clicks = [e for e in events if e["ev"] == "click" and e["url"] == target]
        if clicks or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(clicks) == 1, events
    searches = {e["id"]: e for e in events if e["ev"] == "search"}
    assert clicks[0]["rank"] == 1 and searches[clicks[0]["id"]]["q"] == "activation energy"


def test_completions_and_see_all(browser_page: object, sites: dict[str, object]) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{sites['site']}/custom.html")  # type: ignore[attr-defined]
    box = page.locator("quick-search input")  # type: ignore[attr-defined]
    expect(box).to_have_attribute("placeholder", "Find a question")
    page.locator("main p").click()  # type: ignore[attr-defined]
    page.keyboard.press("/")  # type: ignore[attr-defined]
    expect(box).not_to_be_focused()  # shortcut="off"
    _type(page, "activation en")
    completion = page.locator("quick-search [part~=completion]").first  # type: ignore[attr-defined]
    expect(completion).to_contain_text("activation energy")
    completion.click()
    expect(box).to_have_value("activation energy ")
    more = page.locator("quick-search [part~=more]")  # type: ignore[attr-defined]
    expect(more).to_have_attribute("href", f"{sites['server']}/?q=activation+energy")
    results = page.locator("quick-search [part~=result]")  # type: ignore[attr-defined]
    assert results.count() <= 3  # limit="3"


def test_api_text_is_text_and_script_urls_are_not_links(
    browser_page: object, sites: dict[str, object]
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{sites['site']}/index.html")  # type: ignore[attr-defined]
    _type(page, "zebra stripes")
    option = page.locator("quick-search [part~=result]").first  # type: ignore[attr-defined]
    expect(option).to_contain_text("<b>stripes</b>")  # shown as the text it is
    tags = page.evaluate(  # type: ignore[attr-defined]
        "[...document.querySelector('quick-search').shadowRoot"
        ".querySelectorAll('.title *, .snippet *')].map(e => e.tagName)"
    )
    assert set(tags) == {"MARK"}
    assert option.evaluate("e => e.tagName") == "DIV"  # a javascript: url is no link
    hrefs = page.evaluate(  # type: ignore[attr-defined]
        "[...document.querySelector('quick-search').shadowRoot.querySelectorAll('[href]')]"
        ".map(e => e.getAttribute('href'))"
    )
    assert hrefs and not [h for h in hrefs if not h.startswith("http")], hrefs


def test_an_origin_the_server_does_not_list_is_refused(
    browser_page: object, sites: dict[str, object]
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{sites['other']}/index.html")  # type: ignore[attr-defined]
    _type(page, "energy")
    expect(page.locator("quick-search .state")).to_have_text("Search is unavailable right now.")  # type: ignore[attr-defined]
    assert page.locator("quick-search [part~=result]").count() == 0  # type: ignore[attr-defined]


def test_the_sites_css_cannot_break_it(browser_page: object, sites: dict[str, object]) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{sites['site']}/hostile.html")  # type: ignore[attr-defined]
    expect(page.locator("main p")).to_be_hidden()  # type: ignore[attr-defined]  # the site's rule holds
    box = page.locator("quick-search input")  # type: ignore[attr-defined]
    expect(box).to_be_visible()
    _type(page, "activation energy")
    mark = page.locator("quick-search [part~=result] .title mark").first  # type: ignore[attr-defined]
    expect(mark).to_be_visible()
    color = mark.evaluate("e => getComputedStyle(e).color")
    assert color not in ("rgba(0, 0, 0, 0)", "transparent")
    size = box.evaluate("e => getComputedStyle(e).fontSize")
    assert size == "16px"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_in_the_open_widget(
    browser_page: object, sites: dict[str, object], scheme: str
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.emulate_media(color_scheme=scheme)  # type: ignore[attr-defined]
    page.goto(f"{sites['site']}/index.html")  # type: ignore[attr-defined]
    _type(page, "activaton energy")
    expect(page.locator("quick-search [part~=result]").first).to_be_visible()  # type: ignore[attr-defined]
    page.keyboard.press("ArrowDown")  # type: ignore[attr-defined]
    page.keyboard.press("ArrowDown")  # type: ignore[attr-defined]
    assert _axe(page) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"widget-{scheme}.png"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_the_search_page(
    browser_page: object, sites: dict[str, object], scheme: str
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.emulate_media(color_scheme=scheme)  # type: ignore[attr-defined]
    page.goto(f"{sites['server']}/?q=energy")  # type: ignore[attr-defined]
    expect(page.locator("#results .hit").first).to_be_visible()  # type: ignore[attr-defined]
    page.locator("#facet-list button[data-subject='Physics']").click()  # type: ignore[attr-defined]
    expect(page.locator("#facet-list button[aria-pressed='true']")).to_contain_text("Physics")  # type: ignore[attr-defined]
    assert _axe(page) == []
