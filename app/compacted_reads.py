"""One-shot reads of a compacted topic: the latest value of every key now, for the operator commands and
training (the rules, items and serving model in force when they run).

    rules, items, <app_id>-models ──▶ latest_values(topic): every partition, from the start to the end offsets
    (compacted, 1 partition)          seen now (no consumer group, no commits; a tombstone deletes its key)
                                  ──▶ {key: value} ──▶ app/commands.py (rules, items, train), app/training.py

A worker keeps these topics whole and up to date with a ``TopicFollower`` (app/topic_follower.py); a command
or a training run needs them once, as they are at that moment. This module sits below both of its users
(it needs only the settings and the follower's partition helpers), so training does not import the CLI.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from app.main import settings
from app.topic_follower import partitions_of, reached


async def latest_values(topic: str) -> dict[str, bytes]:
    """The latest value of every key of a compacted topic now (tombstones delete)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        if not partitions:
            return {}
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        values: dict[str, bytes] = {}
        while not await reached(consumer, end):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    key = record.key.decode()
                    if record.value is None:
                        values.pop(key, None)
                    else:
                        values[key] = record.value
        return values
    finally:
        await consumer.stop()
