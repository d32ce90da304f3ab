"""Stage 1, ingest: read every input topic, refuse bad records, normalize good ones, bundle them by raw id.

    clickstream ──────┐                                     ┌─ ok ──▶ <app_id>-events-by-id: bundles, one per
    purchase_events ──┤  inspect_record ─▶ normalize ───────┤          partition of the raw id (userId, else
    engagement_metrics┤  (Segment schema)  (Event fields,   │          anonymousId); items carry models.Event
    identities ───────┘                     sanity limits)  │          and their input position
                                                            └─ refused ─▶ dead_letter (original bytes;
                                                                            headers: reason, field, source)

Not a Faust agent: Faust spends ~150 µs of CPU per record it hands to an agent, which caps a worker at
~6,000 input records/s before any work is done (tastemaker/bundles.py). This stage keeps no state, so a
plain aiokafka consumer in a consumer group of its own (``<app_id>-ingest``) reads the inputs in batches
(~3 µs per record) and sends one bundle per destination partition. Offsets are committed only after every
bundle and dead letter of the batch is acknowledged by Kafka: a crash re-reads the batch, and the next stage
recognises what it has seen (the same input positions: tastemaker/dedup.py, tastemaker/delivery.py).

Producers may write anything to the input topics; the same checks as the collector's apply, so nothing a
producer writes is silently dropped: it is forwarded or dead-lettered, and ``GET /stats/ingest`` counts which.
No record can stop the stage: whatever fails while one record is inspected, normalized or bundled (a bug a
record triggers included) dead-letters that record, with its reason and position, and the batch goes on.
Only what is not a record's fault (the broker refusing a send or a commit) makes the stage read the batch
again from the last commit. Its progress clock (app/stage_reports.py) tells ``/health`` when records wait
and none is finished: ``stage:ingest``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError
from mode import Service

from agents.bundle_io import send_bundles
from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app import stage_reports
from app.main import app, settings
from app.topic_follower import lag_of, stop_quietly
from app.topics import INPUTS, events_by_id
from tastemaker import bundles
from tastemaker.delivery import SourcePosition
from tastemaker.ingest.collect import inspect_record
from tastemaker.ingest.normalize import normalize
from tastemaker.ingest.segment_schema import Invalid

log = logging.getLogger(__name__)

LIMITS = settings.limits
BATCH_RECORDS = 2000  # records per read: bigger bundles, fewer Faust records downstream
COMMIT_EVERY = 1.0  # seconds between offset commits
MEASURE_EVERY = 1.0  # seconds between two measures of the consumer lag (for the progress clock)


class IngestService(Service):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.consumer: AIOKafkaConsumer | None = None
        self.assigned = asyncio.Event()
        self.clock = stage_reports.clock("ingest")

    @Service.task
    async def _run(self) -> None:
        # Started by Faust after the worker's first assignment and table recovery (app.on_started): the
        # topics exist by then (TastemakerApp.on_first_start).
        while not self.should_stop:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker restart, a refused send: start over from the committed offsets
                self.clock.failed(exc)
                log.warning("ingest: %r; reading again from the last commit", exc)
                await self._close()
                await self.sleep(1.0)

    async def _consume(self) -> None:
        self.consumer = consumer = AIOKafkaConsumer(
            *INPUTS,
            bootstrap_servers=settings.bootstrap_servers,
            group_id=f"{settings.app_id}-ingest",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(settings.session_timeout * 1000),
            heartbeat_interval_ms=max(int(settings.session_timeout * 100), 300),
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        loop = asyncio.get_running_loop()
        done: dict = {}
        committed_at = loop.time()
        lag, measured_at = 0, float("-inf")
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=200, max_records=BATCH_RECORDS)
            if consumer.assignment():
                self.assigned.set()
            if loop.time() - measured_at >= MEASURE_EVERY:
                lag, measured_at = await lag_of(consumer), loop.time()
            fetched = sum(map(len, batches.values()))
            self.clock.waiting(fetched + lag, stage_reports.now())
            if batches:
                await self._process(batches)
                self.clock.finished(stage_reports.now())
                # Acknowledged: these offsets may be committed. Committing is a broker round trip of its own,
                # so it happens at most every COMMIT_EVERY seconds; a crash re-reads at most that much, which
                # the next stage recognises (same input positions).
                done.update({tp: records[-1].offset + 1 for tp, records in batches.items()})
            if done and loop.time() - committed_at >= COMMIT_EVERY:
                await self._commit(consumer, done)
                committed_at = loop.time()
        await self._commit(consumer, done)

    async def _commit(self, consumer: AIOKafkaConsumer, done: dict) -> None:
        if not done:
            return
        offsets = {tp: offset for tp, offset in done.items() if tp in consumer.assignment()}
        done.clear()
        try:
            if offsets:
                await consumer.commit(offsets)
        except CommitFailedError:  # partitions moved meanwhile: their new owner reads them again
            log.info("ingest: commit refused after a rebalance; those records will be read again")

    async def _process(self, batches) -> None:
        writer = bundles.BundleWriter(settings.partitions)
        pending = []
        accepted: list[dict] = []
        now = time.time()
        for tp, records in batches.items():
            for record in records:
                source = SourcePosition(tp.topic, tp.partition, record.offset)
                checked = _event_of(record, source, now)
                if not isinstance(checked, Invalid):
                    try:
                        writer.add(bundles.item(checked["key"], checked, source))
                    except bundles.Unbundlable as exc:
                        checked = Invalid(None, str(exc))
                if isinstance(checked, Invalid):
                    # Sent by the producer, not the stage's: only a send the broker refuses raises here.
                    pending.append(await send_to_dead_letter(record.value, record.key, checked.reason, checked.field,
                                                             source))
                    continue
                accepted.append(checked)
        pending += await send_bundles(events_by_id, writer)
        await asyncio.gather(*pending)  # acknowledged by Kafka before the offsets are committed
        # Counted once acknowledged: a batch read again after a refused send is not counted twice.
        OUTCOMES["accepted"] += len(accepted)
        OUTCOMES.update(f"clamped:{name}" for event in accepted for name in event["clamped"])

    async def _close(self) -> None:
        consumer, self.consumer = self.consumer, None
        await stop_quietly(consumer)

    async def on_stop(self) -> None:
        await self._close()


def _event_of(record, source: SourcePosition, now: float) -> dict | Invalid:
    """The ``models.Event`` fields of an input record, or why it is refused: whatever the record holds."""
    try:
        checked = inspect_record(record.value)
        if isinstance(checked, Invalid):
            return checked
        # The fields of models.Event, exactly (tests/unit/test_normalize.py builds the record from them);
        # building the Faust record here cost ~18% of this stage's CPU, and the dict is what travels.
        return normalize(checked, topic=settings.input_name(source.topic), record_time=record.timestamp / 1000,
                         fallback_id=source.encode().decode(), limits=LIMITS, now=now)
    except Exception as exc:  # noqa: BLE001 — a bug a record triggers must refuse that record, not stop the stage
        log.warning("ingest: record at %s could not be inspected (%s); dead-lettered", source.encode().decode(),
                    type(exc).__name__)
        return Invalid(None, f"unprocessable: {type(exc).__name__}")


ingest = app.service(IngestService())
