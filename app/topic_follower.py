"""Every worker's own copy of a whole topic: rules (compacted, read from the start), decisions (from the end).

Faust tables are partitioned: a worker holds only its partitions. Some state every worker needs whole
(the rules every person is judged by), and some output every worker must see (the decisions it streams to
pages, whoever computed them). A ``TopicFollower`` reads all partitions of one topic with a consumer of its
own, outside the consumer group, so it never takes part in rebalances and never moves a partition::

    topic (all partitions) ──▶ AIOKafkaConsumer (no group, no commits) ──▶ on_record(key, value)
                                 from the start: ``ready`` once the end offsets seen at start are reached
                                 from the end:   ``ready`` as soon as it is positioned

Reading a compacted topic from the start gives the latest value of every key (a tombstone, value None,
deletes it): the worker's state is rebuilt from Kafka on every start, and nothing is kept on local disk.

Any producer can write to these topics. A record the handler cannot apply (it raises) is skipped and
counted, ``skipped:follow:<topic>`` in ``GET /stats/ingest``, and the follower goes on: no record can stop
it or make it read the topic again. Dead letters are no use here: whoever reads the topic whole (every worker)
meets the same record, and each handler already decides what such a record means (the rules and the
catalog drop the key's rule or item: the latest record of a key decides). The log says which offset, and
the exception's type, not the record (no personal data in logs). Each follower has a progress clock
(``follow:<topic>``) for ``/health``: records wait and none is handled for too long, and the worker says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from app import stage_reports

log = logging.getLogger(__name__)

OnRecord = Callable[[bytes | None, bytes | None], Awaitable[None] | None]


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The topic's partitions from fresh cluster metadata (the consumer's own cache only covers topics it is
    subscribed or assigned to)."""
    cluster = await consumer._client.fetch_all_metadata()
    return cluster.partitions_for_topic(topic) or set()


async def stop_quietly(consumer: AIOKafkaConsumer | None) -> None:
    """Stop a consumer that may be broken already (a broker restart): stopping must not fail the caller."""
    if consumer is not None:
        try:
            await consumer.stop()
        except Exception:
            pass


async def lag_of(consumer: AIOKafkaConsumer) -> int:
    """Records on the consumer's partitions past its position, as far as its last fetch tells (a partition
    not fetched yet counts as none)."""
    lag = 0
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        if end is None:
            continue
        try:
            # Known locally once a partition has been fetched; bounded in case a reset is pending.
            position = await asyncio.wait_for(consumer.position(tp), 1.0)
        except Exception:  # noqa: BLE001 — no position yet: no lag to report for it
            continue
        lag += max(0, end - position)
    return lag


async def reached(consumer: AIOKafkaConsumer, target: dict) -> bool:
    for tp, offset in target.items():
        if await consumer.position(tp) < offset:
            return False
    return True


class TopicFollower(Service):
    def __init__(
        self, topic: str, bootstrap_servers: list[str], on_record: OnRecord, *, from_beginning: bool, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.on_record = on_record
        self.from_beginning = from_beginning
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self.stage = f"follow:{topic}"
        self.clock = stage_reports.clock(self.stage)

    @Service.task
    async def _follow(self) -> None:
        while not self.should_stop:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker restarts, topic not yet created: retry, never crash the worker
                self.clock.failed(exc)
                log.warning("following %s: %r; retrying", self.topic, exc)
                await self._close()
                await self.sleep(1.0)

    async def _read(self) -> None:
        consumer = self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False, group_id=None,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
        )
        await consumer.start()
        partitions = None
        while not partitions:  # the worker creates its topics at start; wait for the metadata
            partitions = await partitions_of(consumer, self.topic)
            if not partitions:
                await self.sleep(0.2)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if self.from_beginning:
            await consumer.seek_to_beginning(*assigned)
            target = await consumer.end_offsets(assigned)
        else:
            await consumer.seek_to_end(*assigned)
            target = {}
        if await reached(consumer, target):
            self.ready.set()
        loop = asyncio.get_running_loop()
        lag, measured_at = 0, float("-inf")
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            if loop.time() - measured_at >= 1.0:
                lag, measured_at = await lag_of(consumer), loop.time()
            self.clock.waiting(sum(map(len, batches.values())) + lag, stage_reports.now())
            for records in batches.values():
                for record in records:
                    await self._apply(record)
                    self.clock.finished(stage_reports.now())
            if not self.ready.is_set() and await reached(consumer, target):
                self.ready.set()

    async def _apply(self, record) -> None:
        try:
            result = self.on_record(record.key, record.value)
            if asyncio.iscoroutine(result):
                await result
        except Exception as exc:  # noqa: BLE001 — a record must never stop the follower: skipped, counted
            stage_reports.OUTCOMES[f"skipped:{self.stage}"] += 1
            self.clock.failed(exc)
            log.warning("%s: record at %s:%s not applied (%s); skipped", self.topic, record.partition, record.offset,
                        type(exc).__name__)

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        await stop_quietly(consumer)

    async def on_stop(self) -> None:
        await self._close()
