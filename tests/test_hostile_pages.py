"""Hostile page files: alias bombs, deep nesting, huge scalars, odd types, binary junk and
special files never stop a build, never take the memory, and never cost a good page."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quicksearch import Settings, build_index, open_index
from quicksearch.documents import (
    MAX_KEYWORDS,
    MAX_NESTING,
    MAX_TEXT_CHARS,
    PageError,
    parse_page,
)

from .conftest import write_page

FIELDS = ["url", "question", "answer", "subject", "keywords", "id", "date", "seo", "no_index"]
TEXT_FIELDS = ["url", "question", "answer", "subject", "id"]
#: What one page's parse may allocate at its peak, whatever the page holds.
PEAK_BYTES = 64 * 2**20


def alias_bomb(field: str, levels: int, width: int) -> str:
    """Anchors each a list of ``width`` references to the one before, the last under ``field``."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    lines.append(f"{field}: *a{levels - 1}")
    return "\n".join(lines)


def nested(field: str, depth: int, flow: bool) -> str:
    if flow:
        return f"{field}: {'[' * depth}x{']' * depth}"
    lines = [f"{field}:"] + [f"{'  ' * (i + 1)}k{i}:" for i in range(depth)]
    return "\n".join([*lines, f"{'  ' * (depth + 1)}v"])


def page(**fields: str) -> str:
    base = {"url": "url: /p", "question": "question: Why?", "answer": "answer: Because."}
    base.update(fields)
    return "---\n" + "\n".join(v for v in base.values() if v) + "\n---\n"


def parse_bounded(text: str) -> object:
    """Parse ``text`` and return the Document or the PageError, checking the peak memory."""
    tracemalloc.start()
    try:
        try:
            result: object = parse_page(text)
        except PageError as exc:
            result = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"parsing took {peak:,} bytes at its peak"
    return result


odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.sampled_from(["[]", "{}", "[1, [2, [3]]]", "{a: {b: c}}", "2025-01-01", "!!binary AAEC",
                     "~", "''", "'  '", ".nan", "0x1F", "!!set {a, b}", "[&x a, *x]"]),
    st.text(max_size=40).map(repr),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(FIELDS),
    kind=st.sampled_from(["bomb", "deep", "huge", "odd", "junk"]),
    levels=st.integers(4, 9),
    width=st.integers(4, 12),
    depth=st.integers(MAX_NESTING + 1, 400),
    flow=st.booleans(),
    value=odd_values,
    junk=st.binary(max_size=300),
)
def test_any_front_matter_is_parsed_or_refused_with_a_reason_within_bounds(
    field: str,
    kind: str,
    levels: int,
    width: int,
    depth: int,
    flow: bool,
    value: str,
    junk: bytes,
) -> None:
    if kind == "bomb":
        text = page(**{field: alias_bomb(field, levels, width)})
    elif kind == "deep":
        text = page(**{field: nested(field, depth, flow)})
    elif kind == "huge":
        text = page(**{field: f"{field}: {'word ' * 50_000}"})
    elif kind == "odd":
        text = page(**{field: f"{field}: {value}"})
    else:
        text = page(**{field: f"{field}: "}) + junk.decode("utf-8", "replace")
    result = parse_bounded(text)
    expands = width**levels * 4 > 4 * len(text) + 1_024
    if kind == "bomb" and expands:
        assert isinstance(result, PageError) and "YAML aliases" in str(result)
    if kind == "deep" and not (flow and depth > 900):  # past ~1000 levels libyaml refuses first
        assert isinstance(result, PageError)
        assert field in str(result) and "nested" in str(result)
    if kind == "huge" and field in (*TEXT_FIELDS, "keywords"):
        assert isinstance(result, PageError) and field in str(result)


def test_a_bomb_under_keywords_is_refused_naming_the_field() -> None:
    text = page(keywords="keywords: " + "[" + ", ".join(["&k lol", *["*k"] * 20]) + "]")
    assert parse_page(text).keywords == ("lol",) * 21  # a small, honest alias is fine
    bomb = page(question="question: What about a bomb in the keywords?",
                keywords=alias_bomb("keywords", 9, 9).replace("a0: ", "keywords_0: "))
    with pytest.raises(PageError, match="YAML aliases expand"):
        parse_bounded_strict(bomb)


def parse_bounded_strict(text: str) -> None:
    result = parse_bounded(text)
    if isinstance(result, PageError):
        raise result


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"question": f"question: {'q' * (MAX_TEXT_CHARS['question'] + 1)}"}, "'question' is"),
        ({"keywords": "keywords: " + ",".join(["k"] * (MAX_KEYWORDS + 1))}, "more than 200"),
        ({"keywords": "keywords: [[a, b], c]"}, "'keywords' holds a list"),
        ({"keywords": "keywords: {a: b}"}, "'keywords' must be text or a list"),
        ({"seo": "seo: [a, b]"}, "'seo' must be a mapping"),
        ({"id": "id: [1, 2]"}, "'id' must be text"),
        ({"url": "url: {a: 1}"}, "'url' must be text"),
        ({"subject": "subject: &s [*s]"}, "subject: a YAML alias refers to a value inside itself"),
    ],
)
def test_each_refusal_names_the_field(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(PageError, match=reason):
        parse_page(page(**fields))


def test_a_build_over_hostile_files_skips_them_with_reasons_and_keeps_every_good_page(
    tmp_path: Path,
) -> None:
    src = tmp_path / "content"
    good = []
    for i in range(12):
        good.append(f"/learn/good/{i}")
        write_page(src, f"good/{i:02}.md", url=good[-1], question=f"Good question {i}?",
                   answer=f"A good answer about topic{i}.")
    bad = src / "bad"
    bad.mkdir()
    for field in ("keywords", "question", "seo", "related"):
        (bad / f"bomb-{field}.md").write_text(page(**{field: alias_bomb(field, 9, 9)}))
    (bad / "deep.md").write_text(page(related=nested("related", 300, flow=False)))
    (bad / "huge.md").write_text(page(answer=f"answer: {'x' * 200_000}"))
    (bad / "binary.md").write_bytes(os.urandom(2_000) + b"\x00")
    os.mkfifo(bad / "pipe.md")
    private = tmp_path / "private.md"
    private.write_text(page(url="url: /private"))
    (bad / "link.md").symlink_to(private)
    (bad / "socket-like-folder.md").mkdir()

    report = build_index(src, tmp_path / "ix", jobs=1)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert report.indexed == len(good)
    assert set(reasons) == {
        "bomb-keywords.md", "bomb-question.md", "bomb-seo.md", "bomb-related.md",
        "deep.md", "huge.md", "binary.md", "pipe.md", "link.md",
    }
    assert "YAML aliases" in reasons["bomb-keywords.md"]
    assert "nested" in reasons["deep.md"] and "related" in reasons["deep.md"]
    assert "'answer'" in reasons["huge.md"]
    assert "named pipe" in reasons["pipe.md"]
    assert "outside the source folder" in reasons["link.md"]
    with open_index(tmp_path / "ix") as searcher:
        assert searcher.search("good question topic3").hits[0].url == "/learn/good/3"

    # Following links is a choice; a link inside the folder is read either way.
    (src / "good" / "inside.md").symlink_to(src / "good" / "00.md")
    report = build_index(src, tmp_path / "ix2", jobs=1, settings=Settings(follow_symlinks=True))
    names = {Path(s.path).name for s in report.skipped}
    assert "link.md" not in names and report.indexed == len(good) + 1
    assert "inside.md" in names  # read, then skipped as a duplicate url, like any copy


def test_a_page_that_became_a_fifo_after_the_walk_is_not_read(tmp_path: Path) -> None:
    from quicksearch.sources import SKIPPED, scan_file

    path = tmp_path / "p.md"
    os.mkfifo(path)
    record, doc = scan_file(path, "p.md", 1_000_000)
    assert doc is None and record.status == SKIPPED and "FIFO" in record.reason
