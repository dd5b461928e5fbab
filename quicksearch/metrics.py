"""Prometheus metrics of ``quicksearch serve`` (``GET /metrics``), with ``prometheus-client``.

With several workers, each process writes its counters to files in ``PROMETHEUS_MULTIPROC_DIR``
(the library's multiprocess mode) and whichever worker answers a scrape sums them all;
``quicksearch serve`` creates and wipes that folder itself. The index gauges (documents, age of
the live generation) are read from the index at scrape time, so any worker gives the same answer.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from quicksearch.models import IndexStats

__all__ = ["CONTENT_TYPE", "MULTIPROC_ENV", "ServerMetrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Endpoints counted by name; anything else is counted as "other" (bounded label values).
ENDPOINTS = frozenset(
    {"/", "/search", "/suggest", "/related", "/click", "/health", "/metrics", "/openapi.json"}
)
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_GC_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class _IndexCollector(Collector):
    def __init__(self, stats: Callable[[], IndexStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        facts = self._stats()
        yield GaugeMetricFamily(
            "quicksearch_index_documents", "Pages in the live index", value=facts.documents
        )
        age = GaugeMetricFamily(
            "quicksearch_index_age_seconds",
            "Seconds since the live index generation was built",
            labels=["generation"],
        )
        try:
            built = dt.datetime.fromisoformat(facts.built_at)
            age.add_metric([facts.generation], max(0.0, time.time() - built.timestamp()))
        except ValueError:
            pass  # an index without a build time: no age rather than a wrong one
        yield age


class _CacheCollector(Collector):
    def __init__(self, sizes: Callable[[], dict[str, int]]) -> None:
        self._sizes = sizes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "quicksearch_cache_bytes",
            "Bytes (about) held by each cache that queries fill, in the worker that answered "
            "the scrape; all of them stay within Settings.cache_bytes",
            labels=["cache"],
        )
        for name, size in sorted(self._sizes().items()):
            family.add_metric([name], size)
        yield family


class ServerMetrics:
    """The server's counters, and their exposition for one scrape."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "quicksearch_http_requests",
            "HTTP requests answered, by endpoint and status",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "quicksearch_http_request_duration_seconds",
            "Time to answer a request, by endpoint",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.zero_results = Counter(
            "quicksearch_zero_result_searches",
            "Searches that found no page",
            registry=self.registry,
        )
        self.clicks = Counter(
            "quicksearch_clicks", "Result clicks reported to /click", registry=self.registry
        )
        self.log_dropped = Counter(
            "quicksearch_query_log_dropped",
            "Query log events dropped because the log could not keep up or be written",
            registry=self.registry,
        )
        self.gc_pauses = Histogram(
            "quicksearch_gc_pause_seconds",
            "Garbage collection pauses, by generation (2 = a full collection)",
            ["generation"],
            buckets=_GC_BUCKETS,
            registry=self.registry,
        )
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started:
            pause = time.perf_counter() - self._gc_started
            self.gc_pauses.labels(str(info.get("generation", ""))).observe(pause)

    def close(self) -> None:
        """Stop timing garbage collections (the app is shutting down)."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def observe(self, path: str, status: int, seconds: float) -> None:
        endpoint = path if path in ENDPOINTS else "other"
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def exposition(
        self, stats: Callable[[], IndexStats], caches: Callable[[], dict[str, int]] = dict
    ) -> bytes:
        """The text format for one scrape: every worker's counters plus the index gauges."""
        if self.multiprocess:
            counters = CollectorRegistry()
            MultiProcessCollector(counters)
        else:
            counters = self.registry
        index = CollectorRegistry()
        index.register(_IndexCollector(stats))
        index.register(_CacheCollector(caches))
        return generate_latest(counters) + generate_latest(index)


def prepare_multiprocess_dir(path: str) -> None:
    """Empty a multiprocess folder of an earlier run's files (its counts would be added in)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
