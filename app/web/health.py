"""``GET /health``: 200 when this worker can serve, 503 with the failing checks until then, and 503 again
when one of its stages stalls (tastemaker/health.py: records wait, none finished for
``TASTEMAKER_STALL_AFTER`` seconds; the check ``stage:<name>`` says which and why).

Stages report their own progress (app/stage_reports.py): the ingest consumer and the topic followers from
their loops, the timers from their runs. The Faust agents (identity on ``events-by-id``, person on
``events-by-person``) are measured here: a Faust sensor sees every event a stream finishes
(``on_stream_event_out``), and once a second ``_measure_agents`` sets what waits for each, per assigned
partition its end offset (the consumer's last fetch) past the later of the last finished offset and the
committed one. While the worker rebalances or recovers tables the agents cannot run, and their clocks pause.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient
from faust.sensors import Sensor
from mode import Service

from app import stage_reports
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


# The Faust agents' source topics, and the stage each is (their own code is agents/identity.py, person.py).
AGENT_STAGES = {f"{settings.app_id}-events-by-id": "identity", f"{settings.app_id}-events-by-person": "person"}


class _StreamProgress(Sensor):
    """The last offset each agent finished per partition (called by Faust for every event)."""

    def __init__(self, stages: dict[str, str]) -> None:
        super().__init__()
        self.stages = stages
        self.finished: dict = {}  # TP -> last finished offset

    def on_stream_event_out(self, tp, offset, stream, event, state=None) -> None:
        stage = self.stages.get(tp.topic)
        if stage is not None:
            self.finished[tp] = offset
            stage_reports.clock(stage).finished(stage_reports.now())


_progress = _StreamProgress(AGENT_STAGES)
if "stream" in settings.roles:
    app.sensors.add(_progress)
    for _stage in AGENT_STAGES.values():
        stage_reports.clock(_stage)


def _recovered() -> bool:
    recovery = app.tables.recovery
    return recovery.completed.is_set() and not recovery.in_recovery


@app.timer(1.0)
async def _measure_agents() -> None:
    if "stream" not in settings.roles:
        return
    try:
        now = stage_reports.now()
        if not _assignment_received.is_set() or app.rebalancing or not _recovered():
            for stage in AGENT_STAGES.values():
                stage_reports.clock(stage).pause()
            return
        waiting = dict.fromkeys(AGENT_STAGES.values(), 0)
        consumer = app.consumer
        for tp in consumer.assignment():
            stage = AGENT_STAGES.get(tp.topic)
            end = consumer.highwater(tp) if stage else None
            if end is None:
                continue
            finished = _progress.finished.get(tp)
            committed = consumer._committed_offset.get(tp)  # the next offset to read, as committed
            position = max(finished + 1 if finished is not None else 0, committed or 0)
            waiting[stage] += max(0, end - position)
        for stage, count in waiting.items():
            stage_reports.clock(stage).waiting(count, now)
    except Exception as exc:  # noqa: BLE001 — a measure must never stop the timer (Faust ends it on an error)
        log.warning("health: could not measure the agents' progress (%s)", type(exc).__name__)


async def worker_facts() -> WorkerFacts:
    assigned: dict[str, list[int]] = {}
    if _assignment_received.is_set():
        for tp in app.consumer.assignment():
            assigned.setdefault(tp.topic, []).append(tp.partition)
    now = stage_reports.now()
    return WorkerFacts(
        kafka_reachable=await _kafka.reachable(),
        assignment_received=_assignment_received.is_set(),
        rebalancing=bool(app.rebalancing),
        recovery_complete=_recovered(),
        assigned={topic: sorted(parts) for topic, parts in sorted(assigned.items())},
        catalog_loaded=_catalog_loaded(),
        stages=tuple(clock.progress(now) for clock in stage_reports.STAGES.values()),
    )


def _catalog_loaded() -> bool:
    if "stream" not in settings.roles:
        return True  # a collecting-only worker does not hold the catalog
    from app.catalog import follower

    return follower.ready.is_set()


@app.page("/health")
async def health(web, request):
    facts = await worker_facts()
    verdict = assess(facts, stall_after=settings.stall_after)
    return web.json(verdict.as_json(facts), status=verdict.http_status)

