"""What a source held at the last build: one record per page, to decide what changed.

Each generation stores a ``sources.json`` table: for every page file its size, mtime, content
digest, the url it claims and whether it parsed. An update stats every file, re-reads only those
whose size or mtime moved, re-parses only those whose digest changed, and resolves which file
owns each url exactly as a full build would (first in sorted path order), so an incremental
update and a full rebuild of the same folder give the same index. Engine-free.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from quicksearch.documents import PageError, decode_page, parse_page, read_page_bytes
from quicksearch.files import write_json_atomic
from quicksearch.models import Document, SkippedFile

SOURCES_FILE = "sources.json"
OK, EXCLUDED, SKIPPED = "ok", "excluded", "skipped"


@dataclass(frozen=True)
class SourceRecord:
    """One page of the source as last seen."""

    key: str  # path relative to the source folder (or "url:<url>" for Document sources)
    size: int
    mtime_ns: int
    digest: str
    url: str | None  # the url an indexable page claims
    status: str  # OK, EXCLUDED (no_index) or SKIPPED
    reason: str = ""

    def to_row(self) -> list[object]:
        return [self.size, self.mtime_ns, self.digest, self.url, self.status, self.reason]

    @classmethod
    def from_row(cls, key: str, row: list) -> SourceRecord:  # type: ignore[type-arg]
        size, mtime_ns, digest, url, status, reason = row
        return cls(key, size, mtime_ns, digest, url, status, reason)


@dataclass(frozen=True)
class SourceTable:
    kind: str  # "folder" or "documents"
    records: dict[str, SourceRecord]

    def save(self, generation_dir: Path) -> None:
        data = {"kind": self.kind, "records": {k: r.to_row() for k, r in self.records.items()}}
        write_json_atomic(generation_dir / SOURCES_FILE, data, indent=None)

    @classmethod
    def load(cls, generation_dir: Path) -> SourceTable | None:
        try:
            data = json.loads((generation_dir / SOURCES_FILE).read_text(encoding="utf-8"))
            rows = data["records"].items()
            return cls(data["kind"], {k: SourceRecord.from_row(k, row) for k, row in rows})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def owners(self) -> dict[str, str]:
        """url → key of the page that holds it: the first page in key order that claims the
        url, when that page is indexable. A ``no_index`` page claims its url too, so a later
        copy of it does not make the url searchable."""
        return {url: key for url, key in self.claims().items() if self.records[key].status == OK}

    def claims(self) -> dict[str, str]:
        """url → key of the first indexable or ``no_index`` page with it, in key order."""
        claims: dict[str, str] = {}
        for key in sorted(self.records):
            record = self.records[key]
            if record.status in (OK, EXCLUDED) and record.url and record.url not in claims:
                claims[record.url] = key
        return claims

    def skipped(self, root: Path | None) -> list[SkippedFile]:
        """Every page not in the index and why: parse failures and duplicate urls."""
        owners, claims = self.owners(), self.claims()
        out = []
        for key in sorted(self.records):
            record = self.records[key]
            where = str(root / key) if root is not None else key
            if record.status == SKIPPED:
                out.append(SkippedFile(where, record.reason))
            elif record.status == OK and record.url and owners.get(record.url) != key:
                first = claims[record.url]
                kept = str(root / first) if root is not None else first
                out.append(SkippedFile(where, f"duplicate url {record.url} (kept {kept})"))
        return out


def pages_to_index(
    items: Iterable[tuple[SourceRecord, Document | None]],
    records: dict[str, SourceRecord],
    skipped: list[SkippedFile],
    tick: Callable[[], None] = lambda: None,
) -> Iterator[tuple[SourceRecord, Document]]:
    """The pages of ``items`` (in key order) that go into the index: the first page of each
    url, when it is indexable (a ``no_index`` page claims its url too, so a later copy stays
    out). Every record lands in ``records``; a Document source's repeated url in ``skipped``."""
    claimed: set[str] = set()
    for record, doc in items:
        tick()
        if record.key in records:  # only Document sources can repeat a key (their url)
            skipped.append(SkippedFile(record.key[4:], "duplicate url (kept the first)"))
            continue
        records[record.key] = record
        if not record.url or record.url in claimed or record.status not in (OK, EXCLUDED):
            continue
        claimed.add(record.url)
        if record.status == OK and doc is not None:
            yield record, doc


def digest_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def scan_file(
    path: Path, key: str, max_bytes: int, within: str | None = None
) -> tuple[SourceRecord, Document | None]:
    """Read, digest and parse one page file; never raises (a failure is a SKIPPED record).
    ``within``: see :func:`~quicksearch.documents.read_page_bytes`."""
    try:
        st = os.stat(path)
        size, mtime_ns = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime_ns = -1, -1
    try:
        data = read_page_bytes(path, max_bytes, within=within)
    except PageError as exc:
        return SourceRecord(key, size, mtime_ns, "", None, SKIPPED, str(exc)), None
    digest = digest_bytes(data)
    try:
        doc = parse_page(decode_page(data), source=os.fspath(path))
    except PageError as exc:
        return SourceRecord(key, size, mtime_ns, digest, None, SKIPPED, str(exc)), None
    except Exception as exc:  # a parser bug must cost one page, not the nightly build
        reason = f"unexpected error: {type(exc).__name__}: {exc}"
        return SourceRecord(key, size, mtime_ns, digest, None, SKIPPED, reason), None
    status = EXCLUDED if doc.no_index else OK
    return SourceRecord(key, size, mtime_ns, digest, doc.url, status), doc


#: One page file to read: path, key, largest size, and the folder it must stay within.
ScanTask = tuple[str, str, int, "str | None"]


def scan_task(args: ScanTask) -> tuple[SourceRecord, Document | None]:
    """:func:`scan_file` taking one picklable tuple, for process pools."""
    path, key, max_bytes, within = args
    return scan_file(Path(path), key, max_bytes, within)


def document_record(doc: Document) -> SourceRecord:
    """The record of a Document given directly by an app (keyed by its url)."""
    fields = (doc.url, doc.question, doc.answer, doc.keywords, doc.subject, str(doc.date), doc.id)
    digest = digest_bytes(json.dumps(fields, ensure_ascii=False).encode())
    status = EXCLUDED if doc.no_index else OK
    return SourceRecord(f"url:{doc.url}", 0, 0, digest, doc.url, status)


def records_for_documents(docs: Iterable[Document]) -> Iterator[tuple[SourceRecord, Document]]:
    for doc in docs:
        record = document_record(doc)
        missing = [
            name
            for name, value in (
                ("url", doc.url),
                ("question", doc.question),
                ("answer", doc.answer),
            )
            if not value.strip()
        ]
        if missing:
            # Same rule and words as for page files: a hit shows its question as the title and
            # its answer as the snippet, so a page lacking either has nothing to show.
            record = replace(
                record, url=None, status=SKIPPED, reason=f"missing {', '.join(missing)}"
            )
        yield record, doc
