"""Find Q&A pages in a folder and parse each into a cleaned :class:`Document`.

A page is markdown with YAML front matter holding ``question``, ``answer``, ``url`` and friends.
Every problem with one file becomes a :class:`PageError` with a readable reason, so the indexer
can skip and report it; nothing here lets one bad file stop a build.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from quicksearch.cleaning import clean_answer, clean_text
from quicksearch.errors import InvalidSourceError
from quicksearch.models import Document

__all__ = [
    "PageError",
    "decode_page",
    "find_pages",
    "load_page",
    "page_files",
    "parse_page",
    "read_page_bytes",
]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~2x faster

#: Bounds on what one page's front matter may hold (the real corpus's largest, measured, is in
#: brackets). A page past one is skipped with a reason naming the field, before anything is
#: flattened or analysed, so one hostile page cannot stop a build or fill the memory.
MAX_TEXT_CHARS = {
    "question": 1_000,  # (184)
    "answer": 100_000,  # (4,966)
    "url": 2_000,  # (208)
    "subject": 200,  # (26)
    "id": 200,  # (6)
}
MAX_KEYWORDS = 200  # keywords per page (31)
MAX_KEYWORD_CHARS = 200  # characters per keyword (135)
MAX_NESTING = 16  # levels of lists and mappings inside one field (3)
#: YAML aliases (``*name``) are accepted, but the values they expand to may not exceed this
#: many times the front matter's own size (plus a little): an "alias bomb" of a few KB would
#: otherwise expand to billions of items.
ALIAS_EXPANSION_FACTOR = 4
_FOLDER_HINT = "check the path: SOURCE must be a folder of .md pages with YAML front matter"
_TRUE_STRINGS = frozenset({"true", "yes", "on", "y", "1"})


class PageError(Exception):
    """A page that cannot be indexed; ``str(exc)`` is the reason shown to the user."""


class _FastYAMLHandler(frontmatter.YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        return yaml.load(fm, Loader=_Loader)


_HANDLER = _FastYAMLHandler()


def find_pages(folder: str | os.PathLike[str]) -> list[Path]:
    """All ``*.md`` files under ``folder``, sorted, skipping hidden folders and symlink loops."""
    return sorted(Path(path) for path, _ in page_files(folder))


def page_files(folder: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """``(path, key)`` of every page :func:`find_pages` finds, unsorted; the key is the path
    relative to ``folder`` with ``/`` separators. Plain strings: a build lists 36,000 pages,
    and pathlib spent half a second on them."""
    root = Path(folder)
    if not root.exists():
        raise InvalidSourceError(f"source folder not found: {root}", hint=_FOLDER_HINT)
    if not root.is_dir():
        raise InvalidSourceError(f"source is not a folder: {root}", hint=_FOLDER_HINT)
    top = str(root)
    pages: list[tuple[str, str]] = []
    # followlinks=False: a symlinked folder cannot make the walk loop forever.
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        relative = os.path.relpath(dirpath, top)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        pages.extend(
            (os.path.join(dirpath, f), prefix + f)
            for f in filenames
            if f.endswith(".md") and f[0] != "."
        )
    return pages


def _yaml_error(exc: yaml.YAMLError) -> PageError:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return PageError(f"invalid YAML front matter{where}: {getattr(exc, 'problem', exc)}")


def _front_matter(fm_text: str) -> dict[str, Any]:
    """The front matter's fields, composed and bounds-checked before anything is built from it
    (building an alias bomb is what would take the memory)."""
    loader = _Loader(fm_text)
    try:
        node = loader.get_single_node()
        if isinstance(node, yaml.MappingNode):
            _check_expansion(node, ALIAS_EXPANSION_FACTOR * len(fm_text) + 1_024)
        meta = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    finally:
        loader.dispose()
    if not isinstance(meta, dict):
        raise PageError(f"front matter is a {type(meta).__name__}, not a mapping of fields")
    return meta


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.MappingNode, budget: int) -> None:
    """Refuse a field nested past :data:`MAX_NESTING` or whose aliases expand the front matter
    past ``budget`` characters. Sizes are counted once per node (aliases share nodes), so the
    check costs the size of the text, not of the expansion; a node inside itself is refused."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded characters, nesting)
    spent = 0
    for key_node, value_node in root.value:
        field = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "a key"
        active: set[int] = set()  # the nodes on the current path, to catch a node in itself
        stack: list[tuple[yaml.Node, bool]] = [(value_node, False)]
        while stack:
            node, finished = stack.pop()
            key = id(node)
            if finished:
                active.discard(key)
                parts = [sizes[id(child)] for child in _children(node)]
                size = min(budget + 1, 1 + sum(p[0] for p in parts))
                sizes[key] = (size, 1 + max((p[1] for p in parts), default=0))
            elif key in sizes:
                continue
            elif isinstance(node, yaml.ScalarNode):
                sizes[key] = (len(node.value) + 1, 0)
            elif key in active:
                raise PageError(f"{field}: a YAML alias refers to a value inside itself")
            else:
                active.add(key)
                stack.append((node, True))
                stack.extend((child, False) for child in _children(node))
        size, depth = sizes[id(value_node)]
        if depth > MAX_NESTING:
            raise PageError(
                f"{field}: lists or mappings nested {depth} levels deep (limit {MAX_NESTING})"
            )
        spent += size
        if spent > budget:
            raise PageError(
                f"{field}: YAML aliases expand the front matter past {budget:,} characters "
                f"({ALIAS_EXPANSION_FACTOR}x its size)"
            )


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return bool(value)


def _as_text(meta: dict[str, Any], key: str) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list, bytes)):
        raise PageError(f"field '{key}' must be text, not a {type(value).__name__}")
    text = str(value).strip()
    limit = MAX_TEXT_CHARS.get(key)
    if limit is not None and len(text) > limit:
        raise PageError(f"field '{key}' is {len(text):,} characters long (limit {limit:,})")
    return text


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _keywords(meta: dict[str, Any]) -> tuple[str, ...]:
    seo = meta.get("seo")
    if seo is not None and not isinstance(seo, dict):
        raise PageError(f"field 'seo' must be a mapping of fields, not a {type(seo).__name__}")
    field, raw = "seo.page_keywords", seo.get("page_keywords") if seo else None
    if raw is None:
        field, raw = "keywords", meta.get("keywords")
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = raw.split(",", MAX_KEYWORDS)  # one more part than allowed says "too many"
    elif not isinstance(raw, list):
        raise PageError(f"field '{field}' must be text or a list, not a {type(raw).__name__}")
    if len(raw) > MAX_KEYWORDS:
        raise PageError(f"field '{field}' holds more than {MAX_KEYWORDS} keywords")
    for item in raw:
        if isinstance(item, (dict, list, bytes)):
            raise PageError(f"field '{field}' holds a {type(item).__name__}, not text")
        if item is not None and len(str(item)) > MAX_KEYWORD_CHARS:
            raise PageError(
                f"field '{field}' holds a keyword of {len(str(item)):,} characters "
                f"(limit {MAX_KEYWORD_CHARS})"
            )
    cleaned = (clean_text(str(k)) for k in raw if k is not None)
    return tuple(k for k in cleaned if k)


def parse_page(text: str, source: str | None = None) -> Document:
    """Parse the text of one page into a cleaned :class:`Document` or raise :class:`PageError`."""
    if not text.strip():
        raise PageError("empty file")
    try:
        fm_text, body = _HANDLER.split(text)
    except ValueError:
        raise PageError("no YAML front matter (the page must start with a '---' line)") from None
    meta = _front_matter(fm_text)

    url = _as_text(meta, "url")
    question = clean_text(_as_text(meta, "question"))
    answer = clean_answer(_as_text(meta, "answer") or body)
    missing = [
        name
        for name, value in (("url", url), ("question", question), ("answer", answer))
        if not value
    ]
    if missing:
        raise PageError(f"missing {', '.join(missing)}")
    page_id = _as_text(meta, "id") if meta.get("id") is not None else None
    return Document(
        url=url,
        question=question,
        answer=answer,
        keywords=_keywords(meta),
        subject=_as_text(meta, "subject"),
        date=_as_date(meta.get("date")),
        id=page_id,
        source=source,
        no_index=_truthy(meta.get("no_index", False)),
    )


def read_page_bytes(
    path: str | os.PathLike[str], max_bytes: int = 1_000_000, *, within: str | None = None
) -> bytes:
    """The bytes of one page file, or :class:`PageError` if it is unreadable, too large or not
    a regular file. FIFOs, sockets and devices are never opened for reading (a FIFO would block
    the build forever). With ``within`` (a resolved folder), a symbolic link that leads outside
    it is refused rather than followed."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if within is not None:
                target = os.path.realpath(path)
                if not target.startswith(within.rstrip(os.sep) + os.sep):
                    raise PageError(
                        f"symbolic link to {target}, outside the source folder "
                        "(not followed; see follow_symlinks)"
                    )
            st = os.stat(path)
        _check_regular(st.st_mode)
        # O_NONBLOCK: should the file turn into a FIFO after the check, opening it still
        # cannot block; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            _check_regular(st.st_mode)
            if st.st_size > max_bytes:
                raise PageError(f"file too large ({st.st_size:,} bytes, limit {max_bytes:,})")
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise PageError(f"cannot read file: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # grew since the fstat
        raise PageError(f"file too large (over {max_bytes:,} bytes)")
    return data


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _check_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    raise PageError(f"not a regular file but {kind}; not read")


def decode_page(data: bytes) -> str:
    """Page bytes as text, or :class:`PageError` for binary or non-UTF-8 content."""
    if b"\x00" in data:
        raise PageError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PageError(f"not valid UTF-8 (byte {exc.start})") from None


def load_page(path: str | os.PathLike[str], *, max_bytes: int = 1_000_000) -> Document:
    """Read and parse one page file; raise :class:`PageError` with the reason if it can't be."""
    return parse_page(decode_page(read_page_bytes(path, max_bytes)), source=os.fspath(path))
