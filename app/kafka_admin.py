"""Explicit topic creation with aiokafka's admin client.

Creating topics ourselves (broker auto-creation is off) keeps partition counts under our control: a source
topic and the changelog of the table it feeds must have the same number of partitions. An existing topic
with another count is reported, not silently used.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


class TopicMismatch(RuntimeError):
    """A topic exists with another partition count than Tastemaker declares for it."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(app) -> list[TopicSpec]:
    """The declared topics of ``app.topics`` and the changelog topic of every table."""
    from app import topics

    conf = app.conf
    channels = list(topics.DECLARED) + [table.changelog_topic for table in app.tables.values()]
    specs = {}
    for channel in channels:
        config = {str(k): str(v) for k, v in (channel.config or {}).items()}
        # A table's own extra_topic_configs win (seen_messages: compact,delete with a retention).
        if channel.compacting:
            config.setdefault("cleanup.policy", "compact,delete" if channel.deleting else "compact")
        if channel.retention:
            config.setdefault("retention.ms", str(int(channel.retention.total_seconds() * 1000)))
        for name in channel.topics:
            specs[name] = TopicSpec(
                name=name,
                partitions=channel.partitions or conf.topic_partitions,
                replication=channel.replicas or conf.topic_replication_factor,
                config=config,
            )
    return list(specs.values())


async def ensure_topics(
    bootstrap_servers: list[str], specs: Iterable[TopicSpec], timeout: float = 60.0
) -> list[str]:
    """Create the missing topics; check the partition count of existing ones. Returns the names created."""
    specs = list(specs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    try:
        await _start_with_retry(admin, bootstrap_servers, timeout)
        # Describe only topics that exist: a metadata request for a missing topic would let a broker with
        # auto-creation on create it with its own partition count.
        present = set(await admin.list_topics()) & {s.name for s in specs}
        existing = {
            t["topic"]: len(t["partitions"])
            for t in (await admin.describe_topics(sorted(present)) if present else [])
            if t["error_code"] == 0
        }
        mismatched = [
            f"{s.name} has {existing[s.name]} partitions, {s.partitions} expected"
            for s in specs
            if s.name in existing and existing[s.name] != s.partitions
        ]
        if mismatched:
            raise TopicMismatch("; ".join(mismatched))
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config) for s in missing]
        )
        failed = [
            f"{name}: error {code} {message or ''}".strip()
            for name, code, message in _topic_errors(response)
            if code not in (0, TOPIC_ALREADY_EXISTS)  # a peer worker may create it at the same moment
        ]
        if failed:
            raise KafkaError("could not create topics: " + "; ".join(failed))
        created = [s.name for s in missing]
        log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()


async def _start_with_retry(admin: AIOKafkaAdminClient, servers: list[str], timeout: float) -> None:
    # A broker started a moment ago may refuse the first connections; a worker started together with it
    # (docker compose, make run) should wait, not crash.
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            return
        except KafkaError as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise KafkaError(f"Kafka at {','.join(servers)} unreachable for {timeout:.0f}s: {exc}") from exc
            log.warning("waiting for Kafka at %s: %s", ",".join(servers), exc)
            await asyncio.sleep(1.0)


def _topic_errors(response) -> list[tuple[str, int, str | None]]:
    errors = []
    for item in response.topic_errors:
        name, code = item[0], item[1]
        message = item[2] if len(item) > 2 else None
        errors.append((name, code, message))
    return errors
