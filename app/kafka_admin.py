"""Explicit topic creation with aiokafka's admin client.

    app/topics.py DECLARED + the tables' changelogs (on the app) + Faust's leader topic
        ──topic_specs(app)──▶ TopicSpec per topic ──ensure_topics──▶ Kafka: created, checked, aligned
    at worker start (registered here on the app: app/main.py runs it before anything subscribes), and by
    ``faust -A app create-topics`` / the commands that write (app/commands.py)

This module sits above the declarations it reads (``app.topics``, ``app.main``) and below the commands.

Creating topics ourselves (broker auto-creation is off) keeps partition counts under our control: a source
topic and the changelog of the table it feeds must have the same number of partitions. An existing topic
with another count is reported, not silently used.

Every topic is created with its retention set explicitly (app/topics.py ``keep``; each spec carries why).
Existing topics (created by an earlier version, or by hand) get the declared retention configuration too,
where theirs differs (``align``, on by default: TASTEMAKER_UPDATE_TOPIC_CONFIGS), so the retention this
version documents is the one in force: each change is logged, the topic's other overrides are kept (Kafka's
AlterConfigs replaces a topic's whole set, so the current overrides are read first and merged), and its
``cleanup.policy`` is never changed (turning a compacted topic into a deleting one, or back, is an
operator's decision: a difference is logged). A broker refusing to describe or alter configurations (no
permission) leaves the topics as they are, with a warning.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from app import main, topics

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a topic-level override
KEPT_AS_IS = ("cleanup.policy",)  # never changed on an existing topic


class TopicMismatch(RuntimeError):
    """A topic exists with another partition count than Tastemaker declares for it."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)
    why: str = ""  # why it keeps what it keeps (not sent to Kafka)


class MissingRetention(ValueError):
    """A topic declared without an explicit cleanup policy and retention."""


def topic_specs(app) -> list[TopicSpec]:
    """The declared topics of ``app.topics``, the changelog topic of every table and Faust's leader topic,
    each with an explicit ``cleanup.policy`` and ``retention.ms`` (MissingRetention otherwise)."""
    conf = app.conf
    changelogs = [table.changelog_topic for table in app.tables.values()]
    specs = {}
    for channel in list(topics.DECLARED) + changelogs:
        config = {str(k): str(v) for k, v in (channel.config or {}).items()}
        why = topics.WHY.get(channel.topics[0], "")
        if channel in changelogs:
            # A table's own extra_topic_configs win (seen_messages: compact,delete with its retention).
            own = dict(config)
            config = {k: v for k, v in topics.CHANGELOG.items() if k != "_why"}
            if "delete" in own.get("cleanup.policy", ""):
                config.pop("max.compaction.lag.ms")
                why = (f"seen messageIds, for deduplication: compacted, and deleted after "
                       f"{int(own.get('retention.ms', 0)) / 86400000:g} days (twice the dedup window)")
            else:
                why = topics.CHANGELOG["_why"]
            config.update(own)
        for name in channel.topics:
            specs[name] = TopicSpec(
                name=name,
                partitions=channel.partitions or conf.topic_partitions,
                replication=channel.replicas or conf.topic_replication_factor,
                config=config,
                why=why,
            )
    leader = f"{conf.id}-__assignor-__leader"  # faust/assignor/leader_assignor.py: one partition, no records
    specs[leader] = TopicSpec(leader, 1, conf.topic_replication_factor,
                              {k: v for k, v in topics.LEADER.items() if k != "_why"}, topics.LEADER["_why"])
    for spec in specs.values():
        if "cleanup.policy" not in spec.config or "retention.ms" not in spec.config:
            raise MissingRetention(f"{spec.name}: declare its cleanup.policy and retention.ms (app/topics.py keep)")
    return list(specs.values())


def config_changes(spec: TopicSpec, current: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """What to set on an existing topic whose overrides are ``current`` so that it keeps records as ``spec``
    declares: (the whole new set of overrides, the changes to log); an empty change list: nothing to do."""
    wanted = dict(current)
    changes = []
    for key, value in spec.config.items():
        if current.get(key) == value:
            continue
        if key in KEPT_AS_IS:
            if key in current:  # absent: the broker default (delete), which every declared policy agrees with or not
                log.warning("topic %s has %s=%s, %s declared: left as it is", spec.name, key, current[key], value)
                continue
            if value == "delete":
                continue  # the default already
            log.warning("topic %s has the default %s (delete), %s declared: left as it is", spec.name, key, value)
            continue
        changes.append(f"{key} {current.get(key, '(default)')} -> {value}")
        wanted[key] = value
    return wanted, changes


async def ensure_topics(
    bootstrap_servers: list[str], specs: Iterable[TopicSpec], timeout: float = 60.0, align: bool | None = None,
) -> list[str]:
    """Create the missing topics; check the partition count of existing ones and, with ``align`` (default:
    the setting TASTEMAKER_UPDATE_TOPIC_CONFIGS), give them the declared retention. Returns the names created."""
    if align is None:
        align = main.settings.update_topic_configs
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
        if align and existing:
            await _align(admin, [s for s in specs if s.name in existing])
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


async def create_declared_topics(app) -> list[str]:
    """Every topic of ``topic_specs(app)`` created or checked (ensure_topics): what a worker does at start,
    before anything subscribes. Returns the names created."""
    return await ensure_topics(main.settings.bootstrap_servers, topic_specs(app))


main.app.create_topics_with(create_declared_topics)


async def _align(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    """Give existing topics the declared configuration where theirs differs (config_changes)."""
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs])
    except KafkaError as exc:
        log.warning("could not read the configuration of existing topics (%s): their retention is left as it is", exc)
        return
    current: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"] == 0:
                current[resource["resource_name"]] = {
                    entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
                    if entry.get("config_source") == DYNAMIC_TOPIC_CONFIG}
    updates = []
    for spec in specs:
        if spec.name not in current:
            continue
        wanted, changes = config_changes(spec, current[spec.name])
        if changes:
            updates.append(ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=wanted))
            log.info("topic %s: %s", spec.name, ", ".join(changes))
    if not updates:
        return
    try:
        responses = await admin.alter_configs(updates)
    except KafkaError as exc:
        log.warning("could not update the configuration of existing topics (%s): left as they are", exc)
        return
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != 0:
                log.warning("topic %s: configuration not updated: error %s %s", resource["resource_name"],
                            resource["error_code"], resource.get("error_message") or "")


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
