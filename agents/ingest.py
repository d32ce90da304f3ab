"""Stage 1, ingest: read every input topic, refuse bad records, normalize good ones, re-key them by raw id.

    clickstream ──────┐                                     ┌─ ok ──▶ <app_id>-events-by-id (key: userId |
    purchase_events ──┤  inspect_record ─▶ normalize ───────┤          anonymousId; value: models.Event;
    engagement_metrics┤  (Segment schema)  (Event fields,   │          header tm-source: topic:partition:offset)
    identities ───────┘                     sanity limits)  └─ refused ─▶ dead_letter (original bytes;
                                                                            headers: reason, field, source)

Producers may write anything to the input topics; the same checks as the collector's apply, so nothing a
producer writes is silently dropped: it is forwarded or dead-lettered, and ``GET /stats/ingest`` counts
which. State about an id lives in tables partitioned by that id, hence the re-key (Faust tables must be
co-partitioned with the stream that writes them).
"""

from __future__ import annotations

from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app.main import app, settings
from app.topics import all_inputs, events_by_id
from models.event import Event
from tastemaker.delivery import SourcePosition
from tastemaker.ingest.collect import inspect_record
from tastemaker.ingest.normalize import normalize
from tastemaker.ingest.segment_schema import Invalid

LIMITS = settings.limits


@app.agent(all_inputs)
async def ingest(stream):
    async for record in stream.events():
        message = record.message
        source = SourcePosition(message.topic, message.partition, message.offset)
        checked = inspect_record(record.value)
        if not isinstance(checked, Invalid):
            checked = normalize(checked, topic=settings.input_name(message.topic), record_time=message.timestamp,
                                fallback_id=source.encode().decode(), limits=LIMITS)
        if isinstance(checked, Invalid):
            await send_to_dead_letter(record.value, message.key, checked.reason, checked.field, source)
            continue
        await events_by_id.send(key=checked["key"], value=Event(**checked).dumps(), headers=source.headers())
        OUTCOMES["accepted"] += 1
        OUTCOMES.update(f"clamped:{name}" for name in checked["clamped"])
