"""Any sequence of builds, updates and rollbacks leaves an index that opens and answers.

A hypothesis state machine edits a small folder of pages (new, changed, deleted, made invalid,
duplicate urls, empty and huge fields, odd unicode), runs ``build_index``, ``update_index`` and
``rollback`` in random order, and after every step checks the live index against a model of
what it must hold. ``QUICKSEARCH_HYPOTHESIS_PROFILE=long`` runs many more sequences locally.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from quicksearch import (
    Document,
    NoPreviousGenerationError,
    QuickSearchError,
    RebuildRefusedError,
    build_index,
    open_index,
    rollback,
    update_index,
)
from quicksearch.documents import PageError, parse_page

settings.register_profile(
    "lifecycle-ci",
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "lifecycle-long",
    max_examples=400,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = (
    "lifecycle-long"
    if os.environ.get("QUICKSEARCH_HYPOTHESIS_PROFILE") == "long"
    else "lifecycle-ci"
)

SLOTS = [f"s{i}/page.md" for i in range(6)]
URLS = [f"/learn/q/{i}" for i in range(5)]  # fewer urls than slots: duplicates happen

odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=40,
)
plain_words = st.lists(
    st.sampled_from(["acid", "buffer", "cell", "energy", "the", "what", "is", "wave", "x-ray"]),
    max_size=6,
).map(" ".join)
field_text = st.one_of(
    st.just(""),
    plain_words,
    odd_text,
    st.builds(
        lambda w, n: (w + " ") * n,
        st.sampled_from(["long", "ünïcødé", "数据"]),
        st.integers(500, 3000),
    ),
)


def marker(n: int) -> str:
    """A made-up word unique to one version of one page (far from every other marker, so
    typo tolerance cannot confuse two of them)."""
    digest = hashlib.sha256(str(n).encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:10])


@dataclass(frozen=True)
class Page:
    url: str
    question: str
    answer: str
    marker: str
    no_index: bool = False
    broken: bool = False

    def text(self) -> str:
        if self.broken:
            return "---\nquestion: [this front matter never closes\n---\n"
        meta = {
            "url": self.url,
            # An empty question stays empty: such a page is skipped ("missing question").
            "question": f"{self.question} {self.marker}" if self.question else "",
            "answer": self.answer,
            "subject": "Biology",
        }
        if self.no_index:
            meta["no_index"] = True
        return "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n\n&nbsp;\n"


def expected_urls(pages: dict[str, Page]) -> dict[str, str]:
    """url -> marker of the page the index must hold for it: pages the parser accepts, not
    no_index, the first of each url in path order (the indexer's documented rule)."""
    live: dict[str, str] = {}
    excluded: set[str] = set()
    for key in sorted(pages):
        page = pages[key]
        try:
            doc = parse_page(page.text())
        except PageError:
            continue
        if doc.url in live or doc.url in excluded:
            continue
        if doc.no_index:
            excluded.add(doc.url)
            continue
        live[doc.url] = page.marker
    return live


class IndexLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="qs-lifecycle-"))
        self.source = self.tmp / "pages"
        self.source.mkdir()
        self.index_dir = self.tmp / "index"
        self.pages: dict[str, Page] = {}
        self.counter = 0
        self.mtime = 1_700_000_000
        self.markers: set[str] = set()
        # Generations that went live, oldest first, with the urls (-> markers) each holds.
        self.history: list[tuple[str, dict[str, str]]] = []

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the source folder ------------------------------------------------------------------

    def _write(self, slot: str, page: Page) -> None:
        path = self.source / slot
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page.text(), encoding="utf-8")
        self.pages[slot] = page
        self.markers.add(page.marker)

    def _new_page(self, url: str, question: str, answer: str, no_index: bool) -> Page:
        self.counter += 1
        return Page(url, question, answer, marker(self.counter), no_index=no_index)

    @rule(
        slot=st.sampled_from(SLOTS),
        url=st.sampled_from(URLS),
        question=field_text,
        answer=field_text,
        no_index=st.sampled_from([False, False, False, True]),
    )
    def write_page(self, slot: str, url: str, question: str, answer: str, no_index: bool) -> None:
        self._write(slot, self._new_page(url, question, answer, no_index))

    @rule(slot=st.sampled_from(SLOTS))
    def break_page(self, slot: str) -> None:
        self.counter += 1
        self._write(slot, Page("", "", "", marker(self.counter), broken=True))

    @precondition(lambda self: self.pages)
    @rule(data=st.data())
    def delete_page(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(sorted(self.pages)))
        (self.source / slot).unlink()
        del self.pages[slot]

    # -- index operations --------------------------------------------------------------------

    def _went_live(self, generation: str) -> None:
        if not self.history or self.history[-1][0] != generation:
            self.history.append((generation, expected_urls(self.pages)))
        else:  # nothing changed in the index itself
            assert self.history[-1][1] == expected_urls(self.pages)

    def _refused(self, exc: RebuildRefusedError) -> None:
        live = self.history[-1][1] if self.history else {}
        assert len(set(live) - set(expected_urls(self.pages))) > 0.2 * len(live), exc

    @rule(force=st.booleans())
    def full_build(self, force: bool) -> None:
        try:
            report = build_index(self.source, self.index_dir, jobs=1, force=force)
        except RebuildRefusedError as exc:
            self._refused(exc)
            return
        assert report.documents == len(expected_urls(self.pages))
        assert bool(report.warnings) == (report.documents == 0)
        self._went_live(report.generation)

    @rule(force=st.booleans())
    def update(self, force: bool) -> None:
        try:
            report = update_index(self.source, self.index_dir, jobs=1, force=force)
        except RebuildRefusedError as exc:
            self._refused(exc)
            return
        assert report.documents == len(expected_urls(self.pages))
        self._went_live(report.generation)

    @rule()
    def build_from_documents(self) -> None:
        """The same pages given as Document objects, invalid ones included."""
        docs = []
        for key in sorted(self.pages):
            try:
                docs.append(parse_page(self.pages[key].text()))
            except PageError:
                docs.append(Document(url="/broken", question="", answer="no question"))
        try:
            report = build_index(docs, self.index_dir, force=True)
        except RebuildRefusedError as exc:  # pragma: no cover - force=True never refuses
            raise AssertionError(exc) from None
        assert report.documents == len(expected_urls(self.pages))
        self._went_live(report.generation)

    @precondition(lambda self: self.history)
    @rule()
    def roll_back(self) -> None:
        if len(self.history) < 2:
            try:
                rollback(self.index_dir)
            except NoPreviousGenerationError:
                return
            raise AssertionError("rolled back with no previous generation")
        name = rollback(self.index_dir)
        self.history.pop()
        assert name == self.history[-1][0], "rollback must restore the generation live before"
        # Only one step back is kept: the one before that is gone.
        self.history = self.history[-1:]

    @precondition(lambda self: self.history)
    @rule(query=st.one_of(odd_text, plain_words, st.just("")))
    def any_query(self, query: str) -> None:
        with open_index(self.index_dir) as index:
            try:
                index.search(query)
                index.complete(query)
            except QuickSearchError:
                pass

    # -- what must hold after every step ----------------------------------------------------

    @invariant()
    def index_answers(self) -> None:
        if not self.history:
            return
        live = self.history[-1][1]
        with open_index(self.index_dir) as index:
            stats = index.stats()
            assert stats.documents == len(live)
            assert stats.generation == self.history[-1][0]
            found = {hit.url for hit in index.search("acid cell the", limit=100).hits}
            assert found <= set(live)
            for mark in self.markers:
                results = index.search(mark, limit=100, collapse_duplicates=False)
                urls = {hit.url for hit in results.hits}
                want = {url for url, m in live.items() if m == mark}
                assert urls == want, (mark, urls, want)
                assert results.total == len(want)


IndexLifecycle.TestCase.settings = settings.get_profile(PROFILE)
test_index_lifecycle = IndexLifecycle.TestCase
