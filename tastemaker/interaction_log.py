"""What the person stage keeps of an applied event as interaction history: the recommender's training data.

    person stage ──(applied event about items, or an engagement heartbeat)──▶ <app_id>-interactions
                   bundled by partition, keyed by person, kept TASTEMAKER_INTERACTIONS_RETENTION
    faust -A app train ──▶ reads the last TASTEMAKER_TRAIN_WINDOW of it ──▶ recommend.interactions.from_events

Only what training reads is kept (ids, labels, times, the page view a heartbeat belongs to, the context the
model's person features come from), under the person the event was applied to, after identity resolution:
a person's devices train as one person. No traits, no addresses.
"""

from __future__ import annotations

from typing import Any, Mapping

FIELDS = ("event_id", "type", "name", "item_ids", "event_time", "page_type", "page_view_id", "dwell_ms",
          "device_type", "locale", "campaign", "page_referrer")


def interaction_record(person: str, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The history record of an applied event, or None when it is about no item and is no heartbeat."""
    is_heartbeat = event.get("dwell_ms") is not None and event.get("page_view_id")
    if not event.get("item_ids") and not is_heartbeat:
        return None
    record = {name: event[name] for name in FIELDS if event.get(name) not in (None, [], {})}
    record["person"] = person
    return record
