"""Stage 1, ingest: read every input topic, refuse bad records, re-key good ones by user.

    clickstream ─┐                           ┌─ valid ──▶ <app_id>-events-by-user (key: userId | anonymousId,
    purchase_events ─┤  inspect_record(raw) ─┤             header tm-source: topic:partition:offset)
    engagement_metrics ─┤                    └─ refused ─▶ dead_letter (original bytes; headers: reason,
    identities ─┘                                              field, source)

Producers may write anything to the input topics; the same checks as the collector's apply
(``tastemaker.ingest.collect.inspect_record``), so nothing a producer writes is silently dropped: it is
forwarded or dead-lettered, and ``GET /stats/ingest`` counts which. State about a user lives in tables
partitioned by the user's key, hence the re-key (Faust tables must be co-partitioned with their stream).
"""

from __future__ import annotations

from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app.main import app
from app.topics import all_inputs, events_by_user
from tastemaker.delivery import HEADER, SourcePosition
from tastemaker.identity import raw_user_key
from tastemaker.ingest.collect import inspect_record
from tastemaker.ingest.segment_schema import Invalid


@app.agent(all_inputs)
async def ingest(stream):
    async for event in stream.events():
        message = event.message
        source = SourcePosition(message.topic, message.partition, message.offset)
        checked = inspect_record(event.value)
        if isinstance(checked, Invalid):
            await send_to_dead_letter(event.value, message.key, checked.reason, checked.field, source)
            continue
        await events_by_user.send(key=raw_user_key(checked), value=event.value, headers={HEADER: source.encode()})
        OUTCOMES["accepted"] += 1
