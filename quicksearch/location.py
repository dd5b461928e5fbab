"""Where an index lives: a folder (the embedded engine) or a Typesense cluster.

A cluster location reads ``typesense://HOST:PORT[,HOST:PORT...]/COLLECTION``. The API key is
never part of it: it comes from the ``QUICKSEARCH_TYPESENSE_API_KEY`` environment variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from quicksearch.errors import InvalidArgumentError

__all__ = ["SCHEME", "ClusterLocation", "is_cluster", "parse_location"]

SCHEME = "typesense://"
_NODE = re.compile(r"^(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_FORM = "typesense://HOST:PORT[,HOST:PORT...]/COLLECTION"


@dataclass(frozen=True)
class ClusterLocation:
    """A collection (an alias, in fact) on a Typesense cluster of one or more nodes."""

    nodes: tuple[tuple[str, int], ...]
    collection: str

    def __str__(self) -> str:
        hosts = ",".join(f"{host}:{port}" for host, port in self.nodes)
        return f"{SCHEME}{hosts}/{self.collection}"


def is_cluster(location: object) -> bool:
    """Whether ``location`` names a cluster rather than a folder."""
    return isinstance(location, ClusterLocation) or (
        isinstance(location, str) and location.startswith(SCHEME)
    )


def parse_location(location: str | os.PathLike[str] | ClusterLocation) -> Path | ClusterLocation:
    """A folder path, or the parsed cluster location (raises InvalidArgumentError if malformed)."""
    if isinstance(location, ClusterLocation):
        return location
    if not is_cluster(location):
        return Path(location)
    rest = str(location)[len(SCHEME) :]
    hosts, _, collection = rest.partition("/")
    nodes = []
    for part in filter(None, hosts.split(",")):
        match = _NODE.match(part.strip())
        if match is None or not 0 < int(match["port"]) < 65536:
            raise InvalidArgumentError(
                f"bad cluster node {part!r} in the index location", hint=f"write {_FORM}"
            )
        nodes.append((match["host"].strip("[]"), int(match["port"])))
    if not nodes:
        raise InvalidArgumentError("the cluster location names no node", hint=f"write {_FORM}")
    if not _COLLECTION.match(collection) or "__" in collection:
        raise InvalidArgumentError(
            f"bad collection name {collection!r} in the index location",
            hint="use letters, digits, '-' and '_' (no '__'), e.g. " + _FORM,
        )
    return ClusterLocation(tuple(nodes), collection)
