"""Every topic Tastemaker reads or writes, with its partition count.

Inputs and outputs carry the configured topic prefix; internal topics carry the app id, as Faust's own
changelog topics do. ``app.kafka_admin.topic_specs`` turns ``DECLARED`` (plus the tables' changelogs) into
what is created at worker start and by ``faust -A app create-topics``.
"""

from __future__ import annotations

from datetime import timedelta

from app.main import app, settings
from tastemaker.ingest.routing import INPUT_TOPICS


def _topic(*names: str, **options):
    return app.topic(*names, partitions=settings.partitions, replicas=settings.replication, **options)


# Inputs, written by the collector or by any Kafka producer: clickstream, purchase_events,
# engagement_metrics, identities. JSON values, read as bytes so that a record that is not valid JSON
# reaches our own code (and the dead-letter topic) instead of being dropped by Faust's decoder.
# Keys as bytes too: a key that is not UTF-8 must not fail decoding (Faust drops such records silently).
INPUTS = {name: _topic(name, key_type=bytes, value_serializer="raw") for name in map(settings.topic, INPUT_TOPICS)}
# The same topics as one channel, for the agent that reads them all.
all_inputs = _topic(*INPUTS, key_type=bytes, value_serializer="raw")

# Records refused by the stream stage: the original bytes; reason, field and source position in headers.
dead_letter = _topic(settings.topic("dead_letter"), value_serializer="raw")

# Output for any subscriber: decisions keyed by person.
personalization_decisions = _topic(settings.topic("personalization_decisions"), key_type=str)

# Rules, read whole by every worker (app/rulebook.py): compacted, keyed by rule id, one partition so that a
# rule's versions keep their order.
rules = app.topic(settings.topic("rules"), partitions=1, replicas=settings.replication, compacting=True,
                  key_type=str, value_serializer="raw")

# The item catalog, read whole by every worker (app/catalog.py): compacted, keyed by item id, one partition
# like rules (a whole-topic reader gains nothing from more, and one partition keeps every write in order).
items = app.topic(settings.topic("items"), partitions=1, replicas=settings.replication, compacting=True,
                  key_type=str, value_serializer="raw")

# Internal, JSON values read as bytes (our own code decodes them, so nothing is dropped unseen):
# normalized events keyed by their raw id (userId, else anonymousId), and identity links; the identity
# stage's tables (id -> person, seen messageIds) are co-partitioned with it.
events_by_id = _topic(f"{settings.app_id}-events-by-id", key_type=str, value_serializer="raw", internal=True)
# Events keyed by person, and the merge commands between persons; the profiles table is co-partitioned.
events_by_person = _topic(
    f"{settings.app_id}-events-by-person", key_type=str, value_serializer="raw", internal=True
)

# What persons did with items (the applied events that carry items or engagement), bundled and keyed by
# person: the training data of the recommender (faust -A app train), kept for TASTEMAKER_INTERACTIONS_RETENTION.
interactions = _topic(f"{settings.app_id}-interactions", key_type=str, value_serializer="raw", internal=True,
                      retention=timedelta(seconds=settings.interactions_retention))
# Trained recommendation models (tastemaker/recommend/model.py snapshots), read whole by every worker
# (app/model_store.py): compacted, one partition, key "serving" holds the model in force. A snapshot of
# 10,000 items is ~2 MB, over Kafka's default 1 MB record limit.
MODEL_MAX_BYTES = 64 * 1024 * 1024
models = app.topic(f"{settings.app_id}-models", partitions=1, replicas=settings.replication, compacting=True,
                   key_type=str, value_serializer="raw", internal=True,
                   config={"max.message.bytes": str(MODEL_MAX_BYTES)})

DECLARED = (*INPUTS.values(), dead_letter, personalization_decisions, rules, items, events_by_id, events_by_person,
            interactions, models)
