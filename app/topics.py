"""Every topic Tastemaker reads or writes, with its partition count.

Inputs and outputs carry the configured topic prefix; internal topics carry the app id, as Faust's own
changelog topics do. ``app.kafka_admin.topic_specs`` turns this list (plus the tables' changelogs) into
what is created at worker start and by ``faust -A app create-topics``.
"""

from __future__ import annotations

from app.main import app, settings


def _topic(name: str, **options):
    return app.topic(name, partitions=settings.partitions, replicas=settings.replication, **options)


# Inputs, written by the collector or by any Kafka producer: JSON values, read as bytes so that a record
# that is not valid JSON reaches our own code instead of being dropped by Faust's decoder.
clickstream = _topic(settings.topic("clickstream"), key_type=str, value_serializer="raw")
purchase_events = _topic(settings.topic("purchase_events"), key_type=str, value_serializer="raw")
engagement_metrics = _topic(settings.topic("engagement_metrics"), key_type=str, value_serializer="raw")
identities = _topic(settings.topic("identities"), key_type=str, value_serializer="raw")  # identify, alias, group

# Output for any subscriber: decisions keyed by person.
personalization_decisions = _topic(settings.topic("personalization_decisions"), key_type=str)

# Internal: events re-keyed by the raw user key, so the tables that count them are co-partitioned.
events_by_user = _topic(
    f"{settings.app_id}-events-by-user", key_type=str, value_serializer="raw", internal=True
)

INPUTS = {t.get_topic_name(): t for t in (clickstream, purchase_events, engagement_metrics, identities)}

DECLARED = (*INPUTS.values(), personalization_decisions, events_by_user)
