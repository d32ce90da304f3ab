"""Every topic Tastemaker creates has its cleanup policy and retention set explicitly, with a reason, and an
existing topic is brought to the declared retention without losing its other settings or its policy."""

from __future__ import annotations

import pytest

from app import topics
from app.kafka_admin import TopicSpec, config_changes, topic_specs
from app.main import app, settings

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def specs() -> dict[str, TopicSpec]:
    return {spec.name: spec for spec in topic_specs(app)}


def test_every_topic_has_a_policy_a_retention_and_a_reason(specs):
    expected = {*(t for channel in topics.DECLARED for t in channel.topics),
                *(table.changelog_topic.get_topic_name() for table in app.tables.values()),
                f"{app.conf.id}-__assignor-__leader"}
    assert set(specs) == expected
    for spec in specs.values():
        assert spec.config["cleanup.policy"] in ("delete", "compact", "compact,delete"), spec.name
        assert int(spec.config["retention.ms"]) == -1 or int(spec.config["retention.ms"]) > 0, spec.name
        assert int(spec.config["segment.ms"]) <= DAY_MS, spec.name  # records outlive retention by a day at most
        assert spec.why, spec.name
        assert not any(key.startswith("_") for key in spec.config), spec.name  # nothing of ours sent to Kafka


def test_topics_that_hold_events_delete_them_and_compacted_ones_keep_only_latest_values(specs):
    for name in [*topics.INPUTS, settings.topic("dead_letter"), f"{settings.app_id}-events-by-id",
                 f"{settings.app_id}-events-by-person"]:
        assert specs[name].config["cleanup.policy"] == "delete"
        assert int(specs[name].config["retention.ms"]) == settings.event_retention * 1000
    decisions = specs[settings.topic("personalization_decisions")].config
    assert (decisions["cleanup.policy"], int(decisions["retention.ms"])) == ("delete", settings.decisions_retention * 1000)
    interactions = specs[f"{settings.app_id}-interactions"].config
    assert interactions["cleanup.policy"] == "delete"
    assert int(interactions["retention.ms"]) == settings.interactions_retention * 1000 >= settings.train_window * 1000
    for name in (settings.topic("rules"), settings.topic("items"), f"{settings.app_id}-models",
                 f"{app.conf.id}-profiles-changelog", f"{app.conf.id}-identities-changelog"):
        config = specs[name].config
        assert (config["cleanup.policy"], config["retention.ms"]) == ("compact", "-1"), name
        # A forget's tombstone compacts the person's values away within the lag, and is kept as long.
        assert int(config["max.compaction.lag.ms"]) == int(config["delete.retention.ms"]) == 7 * DAY_MS
    seen = specs[f"{app.conf.id}-seen_messages-changelog"].config
    assert seen["cleanup.policy"] == "compact,delete"
    assert int(seen["retention.ms"]) == settings.dedup_window * 2000
    assert specs[f"{settings.app_id}-models"].config["max.message.bytes"] == str(topics.MODEL_MAX_BYTES)


def test_an_existing_topic_gets_the_declared_retention_and_keeps_its_other_overrides():
    spec = TopicSpec("t", 8, 1, {"cleanup.policy": "delete", "retention.ms": "604800000", "segment.ms": "86400000"})
    wanted, changes = config_changes(spec, {"retention.ms": "2592000000", "min.insync.replicas": "2"})
    assert wanted == {"retention.ms": "604800000", "segment.ms": "86400000", "min.insync.replicas": "2"}
    assert changes == ["retention.ms 2592000000 -> 604800000", "segment.ms (default) -> 86400000"]
    assert config_changes(spec, wanted | {"cleanup.policy": "delete"}) == (wanted | {"cleanup.policy": "delete"}, [])


def test_an_existing_topics_cleanup_policy_is_never_changed():
    compacted = TopicSpec("t", 1, 1, {"cleanup.policy": "compact", "retention.ms": "-1"})
    wanted, changes = config_changes(compacted, {"cleanup.policy": "delete", "retention.ms": "-1"})
    assert changes == [] and wanted["cleanup.policy"] == "delete"
    wanted, changes = config_changes(compacted, {})  # the broker's default policy (delete): left as well
    assert "cleanup.policy" not in wanted and changes == ["retention.ms (default) -> -1"]
