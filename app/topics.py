"""Every topic Tastemaker reads or writes, with its partition count and how long it keeps records.

Inputs and outputs carry the configured topic prefix; internal topics carry the app id, as Faust's own
changelog topics do. ``app.kafka_admin.topic_specs`` turns ``DECLARED`` (plus the tables' changelogs and
Faust's leader topic) into what is created at worker start and by ``faust -A app create-topics``.

Retention is set explicitly on every topic (``keep``), each with its reason in ``WHY``: Kafka's defaults
(7 days; segments rolled weekly, so records may outlive retention by a week) are nobody's decision.
``segment.ms`` of a day bounds how long a record outlives its retention (a segment is deleted whole, once
its newest record is older than retention), and on compacted topics how soon a value becomes cleanable.
"""

from __future__ import annotations

from app.main import app, settings
from tastemaker.ingest.routing import INPUT_TOPICS

DAY = 86400.0
SEGMENT_S = DAY  # a record outlives its retention by at most this (the segment it is in is deleted whole)
# Compacted topics holding person data (the tables' changelogs): a value superseded by a newer one or by a
# tombstone (forget) is compacted away within COMPACTION_LAG_S, and the tombstone itself is kept
# TOMBSTONES_S, so a reader that saw the value and resumes within that time still sees the delete. A worker
# whose local state is older than TOMBSTONES_S must start from an empty data directory.
COMPACTION_LAG_S = 7 * DAY
TOMBSTONES_S = 7 * DAY

WHY: dict[str, str] = {}  # topic name -> why it keeps what it keeps (create-topics prints it; docs/security.md)


def keep(policy: str, retention_s: float | None, why: str, **extra: str) -> dict[str, str]:
    """The topic configuration of a retention: ``policy`` delete, compact or compact,delete; ``retention_s``
    None keeps records forever (a compacted topic's latest values); ``why`` is recorded by ``declare``."""
    config = {"cleanup.policy": policy, "retention.ms": "-1" if retention_s is None else str(int(retention_s * 1000)),
              "segment.ms": str(int(min(SEGMENT_S, retention_s or SEGMENT_S) * 1000))}
    if "compact" in policy:
        config.update({"max.compaction.lag.ms": str(int(COMPACTION_LAG_S * 1000)),
                       "delete.retention.ms": str(int(TOMBSTONES_S * 1000))})
    config.update(extra)
    config["_why"] = why
    return config


def declare(channel):
    """Record the channel's reason (``_why`` of its ``keep`` config, which is not sent to Kafka)."""
    why = (channel.config or {}).pop("_why", "")
    for name in channel.topics:
        WHY[name] = why
    return channel


def _topic(*names: str, config: dict[str, str], **options):
    return declare(app.topic(*names, partitions=settings.partitions, replicas=settings.replication, config=config,
                             **options))


_EVENTS = ("raw events as sent (ids, traits, context): a stage stopped for days catches up from them; "
           "a forget does not rewrite them, they age out (TASTEMAKER_EVENT_RETENTION)")


# Inputs, written by the collector or by any Kafka producer: clickstream, purchase_events,
# engagement_metrics, identities. JSON values, read as bytes so that a record that is not valid JSON
# reaches our own code (and the dead-letter topic) instead of being dropped by Faust's decoder.
# Keys as bytes too: a key that is not UTF-8 must not fail decoding (Faust drops such records silently).
INPUTS = {name: _topic(name, key_type=bytes, value_serializer="raw",
                       config=keep("delete", settings.event_retention, _EVENTS))
          for name in map(settings.topic, INPUT_TOPICS)}
# The same topics as one channel, for the agent that reads them all (not declared again).
all_inputs = app.topic(*INPUTS, key_type=bytes, value_serializer="raw", partitions=settings.partitions,
                       replicas=settings.replication)

# Records refused by the stream stage: the original bytes; reason, field and source position in headers.
dead_letter = _topic(settings.topic("dead_letter"), value_serializer="raw", config=keep(
    "delete", settings.event_retention, "refused records, to inspect and replay; as long as the events they "
    "come from (TASTEMAKER_EVENT_RETENTION)"))

# Output for any subscriber: decisions keyed by person.
personalization_decisions = _topic(settings.topic("personalization_decisions"), key_type=str, config=keep(
    "delete", settings.decisions_retention, "decisions (a person's ids and why) are delivered live; a "
    "subscriber catches up within TASTEMAKER_DECISIONS_RETENTION"))

# Rules, read whole by every worker (app/rulebook.py): compacted, keyed by rule id, one partition so that a
# rule's versions keep their order.
rules = declare(app.topic(settings.topic("rules"), partitions=1, replicas=settings.replication, compacting=True,
                          key_type=str, value_serializer="raw", config=keep(
                              "compact", None, "the rules in force: every rule's latest version, forever")))

# The item catalog, read whole by every worker (app/catalog.py): compacted, keyed by item id, one partition
# like rules (a whole-topic reader gains nothing from more, and one partition keeps every write in order).
items = declare(app.topic(settings.topic("items"), partitions=1, replicas=settings.replication, compacting=True,
                          key_type=str, value_serializer="raw", config=keep(
                              "compact", None, "the catalog: every item's latest version, forever")))

# Internal, JSON values read as bytes (our own code decodes them, so nothing is dropped unseen):
# normalized events keyed by their raw id (userId, else anonymousId), and identity links; the identity
# stage's tables (id -> person, seen messageIds) are co-partitioned with it.
_HAND_OFF = ("events between two stages, consumed within seconds; kept as long as the inputs so that a "
             "stopped stage loses nothing the inputs still hold (TASTEMAKER_EVENT_RETENTION)")
# Keys as bytes: the agents read each item's own key, and a record key that is not UTF-8 (any producer can
# write one) must not fail Faust's decoding, which throws into the agent and drops the record.
events_by_id = _topic(f"{settings.app_id}-events-by-id", key_type=bytes, value_serializer="raw", internal=True,
                      config=keep("delete", settings.event_retention, _HAND_OFF))
# Events keyed by person, and the merge commands between persons; the profiles table is co-partitioned.
events_by_person = _topic(f"{settings.app_id}-events-by-person", key_type=bytes, value_serializer="raw",
                          internal=True, config=keep("delete", settings.event_retention, _HAND_OFF))

# What persons did with items (the applied events that carry items or engagement), bundled and keyed by
# person, and the markers of persons forgotten or opted out (tastemaker/interaction_log.py): the training
# data of the recommender (faust -A app train), kept for TASTEMAKER_INTERACTIONS_RETENTION.
interactions = _topic(f"{settings.app_id}-interactions", key_type=str, value_serializer="raw", internal=True,
                      config=keep("delete", settings.interactions_retention,
                                  "training data (TASTEMAKER_INTERACTIONS_RETENTION, at least the training window); "
                                  "a forgotten or opted-out person's records are hidden from training at once by "
                                  "a marker after them, and leave with the retention"))
# Trained recommendation models (tastemaker/recommend/model.py snapshots), read whole by every worker
# (app/model_store.py): compacted, one partition, key "serving" holds the model in force. A snapshot of
# 10,000 items is ~2 MB, over Kafka's default 1 MB record limit.
MODEL_MAX_BYTES = 64 * 1024 * 1024
models = declare(app.topic(
    f"{settings.app_id}-models", partitions=1, replicas=settings.replication, compacting=True, key_type=str,
    value_serializer="raw", internal=True,
    config=keep("compact", None, "the serving model (item factors, no person data): the latest, forever",
                **{"max.message.bytes": str(MODEL_MAX_BYTES)})))

# The tables' changelogs (profiles, identities, trending; seen_messages has its own, tables/seen_messages.py)
# and Faust's leader topic: created by topic_specs with these.
CHANGELOG = keep("compact", None, "table state (persons, id links, trending partials): every key's latest value; "
                 "a forget's tombstones remove the person's values within the compaction lag (7 days)")
LEADER = keep("delete", DAY, "Faust's leader election; holds no records")

DECLARED = (*INPUTS.values(), dead_letter, personalization_decisions, rules, items, events_by_id, events_by_person,
            interactions, models)
