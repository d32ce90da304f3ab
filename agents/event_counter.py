"""Stage 2: count events per user key in the ``event_counts`` table, each input record once."""

from __future__ import annotations

from app.main import app
from app.topics import events_by_user
from tables.event_counts import event_counts
from tastemaker.delivery import HEADER, SourcePosition
from tastemaker.event_counts import count_event


@app.agent(events_by_user)
async def count_events(stream):
    async for event in stream.events():
        message = event.message
        header = (event.headers or {}).get(HEADER)
        # A record written to this internal topic by anyone else is identified by its own position.
        source = (
            SourcePosition.decode(header)
            if header
            else SourcePosition(message.topic, message.partition, message.offset)
        )
        updated = count_event(event_counts.get(event.key), source)
        if updated is not None:
            event_counts[event.key] = updated
