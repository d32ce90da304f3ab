"""A real Kafka broker for the test session, and plain-aiokafka helpers to produce and consume.

The broker is the one ``infra/kafka/kafka.sh`` runs for ``make run``, on free ports and a temporary state
directory, or an existing one named by ``TASTEMAKER_TEST_BROKER`` (``kafka://host:port``).
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "infra" / "kafka" / "kafka.sh"


@contextmanager
def kafka_broker(state_dir: Path) -> Iterator[str]:
    configured = os.environ.get("TASTEMAKER_TEST_BROKER")
    if configured:
        yield configured
        return
    port = free_port()
    env = dict(
        os.environ,
        KAFKA_PORT=str(port),
        KAFKA_CONTROLLER_PORT=str(free_port()),
        KAFKA_STATE_DIR=str(state_dir),
    )
    subprocess.run([str(KAFKA_SH), "start"], env=env, check=True)
    try:
        yield f"kafka://127.0.0.1:{port}"
    finally:
        subprocess.run([str(KAFKA_SH), "stop"], env=env, check=False)


async def delete_topics_of(broker: str, app_id: str) -> None:
    """Delete a finished deployment's topics (inputs, internal, changelogs: all start with its app id).

    One broker serves the whole session; every partition keeps files open, and a suite's worth of
    deployments would otherwise run the broker out of file descriptors."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(broker))
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.startswith(app_id)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def bootstrap(broker: str) -> str:
    return broker.split("://", 1)[-1]


async def produce(broker: str, topic: str, values: Iterable[Any], key: bytes | None = None) -> int:
    """Send each value (dicts as JSON, bytes as they are) with plain aiokafka; returns how many."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), acks="all")
    await producer.start()
    sent = 0
    try:
        for value in values:
            raw = value if isinstance(value, bytes) else orjson.dumps(value)
            await producer.send_and_wait(topic, raw, key=key)
            sent += 1
    finally:
        await producer.stop()
    return sent


async def _read_topic(broker: str, topic: str, timeout: float) -> list:
    """Every record of ``topic`` from the beginning, read until ``timeout`` passes without a new one,
    in partition then offset order."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap(broker), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(timeout * 1000))
            if not batch:
                break
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda m: (m.partition, m.offset))


async def consume_all(broker: str, topic: str, timeout: float = 5.0) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record of ``topic``."""
    return [(m.key, m.value) for m in await _read_topic(broker, topic, timeout)]


async def consume_all_with_headers(broker: str, topic: str, timeout: float = 5.0) -> list[tuple[bytes, dict[str, bytes]]]:
    """(value, headers) of every record of ``topic``."""
    return [(m.value, dict(m.headers or ())) for m in await _read_topic(broker, topic, timeout)]
