"""The Faust app object and its configuration.

Everything a worker needs is declared at import: topics in ``app.topics``, tables in ``tables/``, agents in
``agents/`` and HTTP views in ``app.web``; ``app/__init__.py`` imports them so ``faust -A app`` sees them all.

This module is the bottom of that: it imports only the settings and helpers of its own (patches, log
throttle, partitioner, web server), never a module that declares something on the app. What a worker does
with those declarations at start, creating every topic before anything subscribes, is registered on the app
by the module that reads them (``app.kafka_admin``, through ``create_topics_with``).
"""

from __future__ import annotations

import gc
from typing import Awaitable, Callable

import faust

from app import faust_patches, log_throttle
from app.log_throttle import ThrottleConfig, ThrottleFilter
from app.partitioner import cached_partitioner
from app.settings import Settings

faust_patches.apply()

settings = Settings.from_env()

# The collector allocates several dicts per event (JSON parsing, validation, enrichment). With CPython's
# default thresholds (700, 10, 10) the cyclic GC ran every few events, and its older generations walk the
# whole worker heap (Faust, aiokafka, aiohttp: ~70k objects). Collect less often; at start the heap is also
# frozen out of collections (on_first_start). Bench: 15.8k -> 17.8k events/s, 63 -> 55 us CPU/event.
gc.set_threshold(20_000, 50, 100)


# Repeated log lines (a broker outage: every Kafka client logs each retry) once per interval, with a count.
LOG_THROTTLE = ThrottleConfig()
_log_throttle: ThrottleFilter | None = None


class TastemakerApp(faust.App):
    # What creates every topic at start (app.kafka_admin registers it): the topics and tables are declared on
    # this app by modules that import this one, so this one cannot import them.
    _create_topics: Callable[[faust.App], Awaitable[object]] | None = None

    def create_topics_with(self, create: Callable[[faust.App], Awaitable[object]]) -> None:
        """At start, once, before anything subscribes: ``await create(app)``."""
        self._create_topics = create

    def _new_web(self):
        # Faust's aiohttp server with deadlines for request heads and idle connections (app/web_server.py);
        # bodies have theirs where they are read (app/web/bodies.py).
        from app.web_server import DeadlineWeb

        return DeadlineWeb(self, head_timeout=settings.header_timeout, idle_timeout=settings.idle_timeout)

    async def on_first_start(self) -> None:
        global _log_throttle
        _log_throttle = log_throttle.install(LOG_THROTTLE)  # Faust's worker has set up logging by now
        settings.datadir.mkdir(parents=True, exist_ok=True)  # Faust's own mkdir is not recursive
        await super().on_first_start()
        # Create every topic with its partition count before anything subscribes: the broker must never
        # auto-create one with its own default (a source/changelog partition mismatch crashes agents).
        if self._create_topics is None:
            raise RuntimeError("no topic creation registered on the app: app.kafka_admin registers it when "
                               "imported (app/__init__.py imports it)")
        await self._create_topics(self)
        gc.freeze()  # what exists at start lives as long as the worker: keep it out of every collection


app = TastemakerApp(
    # A collecting-only worker reads no topic: in a consumer group of its own it never takes partitions (and
    # the table routes that follow them) from the workers that run the stream stages.
    settings.app_id if "stream" in settings.roles else f"{settings.app_id}-collector",
    broker=settings.broker,
    store=settings.store,
    datadir=str(settings.datadir),
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication,
    # Keys are plain strings and values JSON without Faust's __faust metadata, so that any Kafka client
    # can read and write Tastemaker's topics.
    key_serializer="raw",
    value_serializer="json",
    web_port=settings.web_port,
    web_bind=settings.web_bind,
    web_host=settings.web_host,
    canonical_url=settings.canonical_url,
    # Faust's own views are off: /table/<name>/<key>/ serves raw table state (a whole person) and /router/
    # the cluster's layout, to anyone. Routing needs neither (table_route asks the assignor in-process).
    # /graph and the statistics at / follow `debug` unless set: off too, so / is Faust's {"status": "OK"}.
    web_tables_enabled=False,
    web_router_enabled=False,
    web_graph_enabled=False,
    web_stats_enabled=False,
    broker_session_timeout=settings.session_timeout,
    broker_heartbeat_interval=max(settings.session_timeout / 10, 0.3),
    # A worker answers its first requests only after joining: Faust's 60 s rebalance timeout makes a
    # restarted worker wait a full minute for a peer that died; the session timeout is the real bound.
    broker_rebalance_timeout=max(settings.session_timeout * 2, 10.0),
    # One /v1/batch request puts ~5 KB on each partition and concurrent requests share the producer's open
    # batches: with 256 KiB instead of Faust's 16 KiB there are far fewer batches (futures, produce-request
    # entries) per event. Measured in bench/: collector ~17k -> ~22k events/s (docs/performance.md, make bench-collector).
    producer_max_batch_size=256 * 1024,
    producer_partitioner=cached_partitioner,
)


@app.timer(LOG_THROTTLE.interval)
async def _summarise_repeated_log_lines() -> None:
    if _log_throttle is not None:
        _log_throttle.drain()
