"""Topic retention against a real broker: new topics are created with the declared configuration, and an
existing topic (created by an earlier version) is brought to it, keeping its other overrides and its policy."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.kafka_admin import TopicSpec, ensure_topics
from tests.support.kafka import bootstrap

pytestmark = pytest.mark.integration


async def overrides(admin: AIOKafkaAdminClient, name: str) -> dict[str, str]:
    """The topic-level overrides of ``name`` (retried while the broker does not know a topic just created)."""
    for _ in range(100):
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        [resource] = response.to_object()["resources"]
        if resource["error_code"] == 0:
            return {e["config_names"]: e["config_value"] for e in resource["config_entries"] if e["config_source"] == 1}
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name}: {resource}")


async def test_existing_topics_get_the_declared_retention_and_keep_the_rest(broker):
    servers = [bootstrap(broker)]
    run = uuid.uuid4().hex[:8]
    old, new, compacted = f"retention-old-{run}", f"retention-new-{run}", f"retention-compacted-{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        # As an earlier version left them: Kafka's default retention, an operator's own override.
        await admin.create_topics([
            NewTopic(old, 2, 1, topic_configs={"min.insync.replicas": "1", "retention.ms": "604800000"}),
            NewTopic(compacted, 1, 1, topic_configs={"cleanup.policy": "delete"}),
        ])
        for _ in range(100):  # created: wait until the broker's metadata lists them
            if {old, compacted} <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
        declared = {"cleanup.policy": "delete", "retention.ms": "86400000", "segment.ms": "3600000"}
        specs = [TopicSpec(old, 2, 1, declared), TopicSpec(new, 2, 1, declared),
                 TopicSpec(compacted, 1, 1, {"cleanup.policy": "compact", "retention.ms": "-1"})]

        assert await ensure_topics(servers, specs, align=False) == [new]
        assert (await overrides(admin, old))["retention.ms"] == "604800000"  # left alone when asked to
        assert await overrides(admin, new) == declared

        assert await ensure_topics(servers, specs, align=True) == []
        # The declared retention, the operator's override kept; the policy is the broker's default, delete.
        assert await overrides(admin, old) == {"retention.ms": "86400000", "segment.ms": "3600000",
                                               "min.insync.replicas": "1"}
        # A topic's cleanup policy is an operator's decision: never changed, whatever is declared.
        assert await overrides(admin, compacted) == {"cleanup.policy": "delete", "retention.ms": "-1"}
    finally:
        await admin.delete_topics([old, new, compacted])
        await admin.close()
