"""Posting side files: each segment's ranked postings as flat arrays that searchers map.

Whoosh keeps postings in pickled, compressed blocks of Python objects; reading one block costs
about a tenth of a millisecond, so a query over common words in a large index spent its time
decoding. Beside each segment the writer therefore stores the same postings (document number
and term frequency per term of the ranked fields) as flat arrays with a table of terms sorted
by a 64-bit hash. A searcher maps the file; a posting list is a slice, whatever its length,
and the operating system keeps the hot parts in memory.

Layout of ``<segment id>.qsp``: the magic ``QSPOST01``, a little-endian u32 header length, a
JSON header (byte order, then per field the offset and length of its arrays), then the arrays,
each 8-byte aligned: ``hashes`` (u64, sorted), ``starts`` (i64) and ``counts`` (u32) per term,
``ids`` (u32 document numbers within the segment) and ``freqs`` (u16 term frequencies, capped)
per posting. A field whose terms collide on their hash is left out; its postings are then read
from Whoosh's own files. Engine-free: callers pass plain arrays.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SUFFIX", "PostingsFile", "term_hash", "write_postings"]

SUFFIX = ".qsp"
_MAGIC = b"QSPOST01"
_ALIGN = 8
_MAX_FREQ = np.iinfo(np.uint16).max
_QUESTIONS = "_questions"


def term_hash(term: str) -> int:
    """A stable 64-bit hash of a term (the same in every process, unlike ``hash``)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")


def term_hashes(terms: Sequence[str]) -> np.ndarray:
    return np.fromiter((term_hash(t) for t in terms), dtype=np.uint64, count=len(terms))


def write_postings(
    path: str | os.PathLike[str],
    fields: Mapping[str, Mapping[str, tuple[Any, Any]]],
    questions: Sequence[str] | None = None,
    lengths: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write the side file for one segment.

    ``fields`` maps a field name to ``{term: (document numbers, frequencies)}``, each a buffer
    of native u32 / f32 values (``array('I')`` / ``array('f')``), documents ascending.
    ``questions`` holds each document's question terms (space-separated), if known;
    ``lengths`` each field's length per document as the ranker reads it, for every term's
    shortest field (with its largest frequency, a bound on the term's best score).
    """
    header: dict[str, Any] = {"byteorder": sys.byteorder, "fields": {}}
    chunks: list[tuple[str, str, bytes | np.ndarray]] = []
    if questions is not None:
        encoded = [q.encode("utf-8") for q in questions]
        ends = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(q) for q in encoded], out=ends[1:])
        chunks += [(_QUESTIONS, "offsets", ends), (_QUESTIONS, "text", b"".join(encoded))]
        header["fields"][_QUESTIONS] = {"documents": len(encoded)}
    for field, postings in fields.items():
        terms = list(postings)
        if not terms:
            continue
        hashes = term_hashes(terms)
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        if len(hashes) > 1 and bool((hashes[1:] == hashes[:-1]).any()):
            continue  # two terms share a hash: this field is read from Whoosh instead
        entries = list(postings.values())
        counts = np.fromiter((len(e[0]) for e in entries), dtype=np.int64, count=len(entries))
        starts = np.zeros(len(entries), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        ids = b"".join(e[0] for e in entries)  # joined in C: no per-posting work
        freqs = np.frombuffer(b"".join(e[1] for e in entries), dtype=np.float32)
        freqs = np.minimum(freqs, _MAX_FREQ).astype(np.uint16)
        chunks += [
            (field, "hashes", hashes),
            (field, "starts", starts[order]),
            (field, "counts", counts[order].astype(np.uint32)),
            (field, "ids", ids),
            (field, "freqs", freqs),
            (field, "maxfreq", np.maximum.reduceat(freqs, starts)[order]),
        ]
        field_lengths = lengths.get(field) if lengths is not None else None
        if field_lengths is not None:
            docs = np.frombuffer(ids, dtype=np.uint32)
            shortest = np.minimum.reduceat(field_lengths[docs].astype(np.float32), starts)
            chunks.append((field, "minlength", shortest[order]))
        header["fields"][field] = {"terms": len(terms), "postings": int(counts.sum())}
    # Offsets are relative to the end of the header, so the header can describe itself.
    offset = 0
    layout: dict[str, dict[str, list[int]]] = {}
    for field, name, data in chunks:
        size = len(data) if isinstance(data, bytes) else data.nbytes
        layout.setdefault(field, {})[name] = [offset, size]
        offset += size + (-size % _ALIGN)
    for field, arrays in layout.items():
        header["fields"][field]["arrays"] = arrays
    encoded = json.dumps(header).encode()
    encoded += b" " * (-(len(_MAGIC) + 4 + len(encoded)) % _ALIGN)
    tmp = Path(f"{os.fspath(path)}.tmp")
    with open(tmp, "wb") as f:
        f.write(_MAGIC + struct.pack("<I", len(encoded)) + encoded)
        for _, _, data in chunks:
            raw = data if isinstance(data, bytes) else data.tobytes()
            f.write(raw)
            f.write(b"\0" * (-len(raw) % _ALIGN))
    os.replace(tmp, path)


class _Field:
    __slots__ = ("counts", "freqs", "hashes", "ids", "maxfreq", "minlength", "starts")

    def __init__(self, buffer: Any, base: int, arrays: Mapping[str, list[int]]) -> None:
        def view(name: str, dtype: Any) -> np.ndarray:
            offset, size = arrays[name]
            return np.frombuffer(
                buffer, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=base + offset
            )

        self.hashes = view("hashes", np.uint64)
        self.starts = view("starts", np.int64)
        self.counts = view("counts", np.uint32)
        self.ids = view("ids", np.uint32)
        self.freqs = view("freqs", np.uint16)
        self.maxfreq = view("maxfreq", np.uint16)
        self.minlength = view("minlength", np.float32) if "minlength" in arrays else None


class PostingsFile:
    """One segment's side file, mapped read-only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        head = self._map[: len(_MAGIC) + 4]
        if head[: len(_MAGIC)] != _MAGIC:
            raise ValueError(f"{path} is not a postings file")
        (length,) = struct.unpack("<I", head[len(_MAGIC) :])
        base = len(_MAGIC) + 4 + length
        header = json.loads(self._map[len(_MAGIC) + 4 : base])
        if header.get("byteorder") != sys.byteorder:
            raise ValueError(f"{path} was written on a machine of the other byte order")
        fields = header["fields"]
        questions = fields.pop(_QUESTIONS, None)
        self.fields = {
            name: _Field(self._map, base, info["arrays"]) for name, info in fields.items()
        }
        self._question_ends: np.ndarray | None = None
        self._question_base = 0
        if questions is not None:
            offset, size = questions["arrays"]["offsets"]
            self._question_ends = np.frombuffer(
                self._map, dtype=np.int64, count=size // 8, offset=base + offset
            )
            self._question_base = base + questions["arrays"]["text"][0]

    def question(self, docnum: int) -> str | None:
        """The question terms of a document of this segment (None if not stored)."""
        ends = self._question_ends
        if ends is None or not 0 <= docnum < len(ends) - 1:
            return None
        start = self._question_base + int(ends[docnum])
        return self._map[start : self._question_base + int(ends[docnum + 1])].decode("utf-8")

    def has_field(self, field: str) -> bool:
        return field in self.fields

    def find_many(
        self, field: str, hashes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """For hashed terms at once: found, starts, counts, largest frequencies and shortest
        field lengths (None if not recorded)."""
        table = self.fields[field]
        at = np.searchsorted(table.hashes, hashes)
        np.minimum(at, len(table.hashes) - 1, out=at)
        found = table.hashes[at] == hashes
        lows = table.minlength[at] if table.minlength is not None else None
        return found, table.starts[at], table.counts[at], table.maxfreq[at], lows

    def slice(self, field: str, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        table = self.fields[field]
        return table.ids[start : start + count], table.freqs[start : start + count]
