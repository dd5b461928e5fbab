"""Engines: each a wing behind the small interface of :mod:`quicksearch.engines.base`.

``embedded/`` keeps an index in a folder (Whoosh, side files); ``typesense/`` keeps it on a
Typesense cluster. A location (a folder path or ``typesense://...``) picks its engine here, by
its kind, and the engine's module is imported only then: the interface imports no engine, an
app that uses one engine never loads the other, and the two never import each other.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

from quicksearch.engines.base import Location
from quicksearch.location import ClusterLocation, parse_location

__all__ = ["location_kind", "open_location", "writer_for"]

#: Location kind -> the class that opens such a location (``module:attribute``).
LOCATIONS = {
    "folder": "quicksearch.engines.embedded.engine:FolderLocation",
    "typesense": "quicksearch.engines.typesense.engine:ClusterIndex",
}
#: Location kind -> the module that builds, updates and rolls back such an index.
WRITERS = {
    "folder": "quicksearch.engines.embedded.writer",
    "typesense": "quicksearch.engines.typesense.writer",
}


def location_kind(location: Any) -> str:
    """``"typesense"`` for a cluster location, ``"folder"`` for anything else."""
    return "typesense" if isinstance(parse_location(location), ClusterLocation) else "folder"


def open_location(location: Any) -> Location:
    """The location object for a folder path or a ``typesense://`` location."""
    module, _, name = LOCATIONS[location_kind(location)].partition(":")
    opener = getattr(import_module(module), name)
    return opener(parse_location(location))  # type: ignore[no-any-return]


def writer_for(location: Any) -> ModuleType:
    """The writer module of the location's engine."""
    return import_module(WRITERS[location_kind(location)])
