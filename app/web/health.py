"""``GET /health``: 200 when this worker can serve, 503 with the failing checks until then."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient
from mode import Service

from app.main import app, settings
from tastemaker.health import WorkerFacts, assess

log = logging.getLogger(__name__)

KAFKA_PROBE_TIMEOUT = 2.0
KAFKA_PROBE_CACHE = 1.0  # seconds a probe result is reused, so a tight readiness poll is not a load


class _KafkaProbe:
    """A metadata round trip to the broker, on a small admin client of its own."""

    def __init__(self) -> None:
        self._admin: AIOKafkaAdminClient | None = None
        self._checked_at = float("-inf")
        self._reachable = False
        self._lock = asyncio.Lock()

    async def reachable(self) -> bool:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if now - self._checked_at < KAFKA_PROBE_CACHE:
                return self._reachable
            try:
                await asyncio.wait_for(self._describe(), KAFKA_PROBE_TIMEOUT)
                self._reachable = True
            except Exception as exc:  # any failure means "not reachable now"; the next probe retries
                log.warning("Kafka probe failed: %s", type(exc).__name__)
                self._reachable = False
                await self._reset()
            self._checked_at = asyncio.get_running_loop().time()
            return self._reachable

    async def _describe(self) -> None:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
            await self._admin.start()
        await self._admin.describe_cluster()

    async def _reset(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                await admin.close()
            except Exception:
                pass


_kafka = _KafkaProbe()


@app.service
class _CloseKafkaProbe(Service):
    """Closes the probe's admin client when the worker stops."""

    async def on_stop(self) -> None:
        await _kafka._reset()
_assignment_received = asyncio.Event()


@app.on_partitions_assigned.connect
async def _on_assigned(sender, assigned, **kwargs) -> None:
    _assignment_received.set()


async def worker_facts() -> WorkerFacts:
    recovery = app.tables.recovery
    assigned: dict[str, list[int]] = {}
    if _assignment_received.is_set():
        for tp in app.consumer.assignment():
            assigned.setdefault(tp.topic, []).append(tp.partition)
    return WorkerFacts(
        kafka_reachable=await _kafka.reachable(),
        assignment_received=_assignment_received.is_set(),
        rebalancing=bool(app.rebalancing),
        recovery_complete=recovery.completed.is_set() and not recovery.in_recovery,
        assigned={topic: sorted(parts) for topic, parts in sorted(assigned.items())},
        catalog_loaded=_catalog_loaded(),
    )


def _catalog_loaded() -> bool:
    if "stream" not in settings.roles:
        return True  # a collecting-only worker does not hold the catalog
    from app.catalog import follower

    return follower.ready.is_set()


@app.page("/health")
async def health(web, request):
    facts = await worker_facts()
    verdict = assess(facts)
    return web.json(verdict.as_json(facts), status=verdict.http_status)

