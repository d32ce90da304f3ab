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

import logging
from collections import Counter

from app.main import app
from app.topics import all_inputs, dead_letter, events_by_user
from tastemaker.delivery import HEADER, SourcePosition
from tastemaker.identity import raw_user_key
from tastemaker.ingest.collect import inspect_record
from tastemaker.ingest.segment_schema import Invalid

log = logging.getLogger(__name__)

#: Outcomes counted by this worker since it started: "accepted", "dead_letter", "dead_letter:<reason>".
OUTCOMES: Counter[str] = Counter()


@app.agent(all_inputs)
async def ingest(stream):
    async for event in stream.events():
        message = event.message
        source = SourcePosition(message.topic, message.partition, message.offset)
        checked = inspect_record(event.value)
        if isinstance(checked, Invalid):
            await dead_letter.send(
                key=message.key,
                value=event.value or b"",
                headers={
                    "tm-reason": checked.reason.encode(),
                    "tm-field": (checked.field or "").encode(),
                    HEADER: source.encode(),
                },
            )
            OUTCOMES["dead_letter"] += 1
            OUTCOMES[f"dead_letter:{checked.reason.split(' (', 1)[0]}"] += 1
            continue
        await events_by_user.send(key=raw_user_key(checked), value=event.value, headers={HEADER: source.encode()})
        OUTCOMES["accepted"] += 1
