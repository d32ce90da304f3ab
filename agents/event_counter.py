"""Stage 2, per user: drop duplicate messages, then count events in ``event_counts``, each input record once.

Two guards, in this order (both explained in their modules):
- ``tastemaker.dedup``: the same messageId from the same source within the window is a duplicate;
- ``tastemaker.delivery``: a record re-delivered by Kafka after a crash is applied once.
"""

from __future__ import annotations

import orjson

from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app.main import app, settings
from app.topics import events_by_user
from tables.event_counts import event_counts
from tables.seen_messages import seen_messages
from tastemaker import dedup
from tastemaker.delivery import HEADER, SourcePosition
from tastemaker.event_counts import count_event


@app.agent(events_by_user)
async def count_events(stream):
    async for event in stream.events():
        message = event.message
        header = (event.headers or {}).get(HEADER)
        position = SourcePosition(message.topic, message.partition, message.offset)
        try:
            # A record written to this internal topic by anyone else is identified by its own position.
            source = SourcePosition.decode(header) if header else position
            body = orjson.loads(event.value)
            key = dedup.dedup_key(body) if isinstance(body, dict) else None
            if not event.key or not isinstance(body, dict):
                raise ValueError("not a JSON object with a user key")
        except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
            await send_to_dead_letter(event.value, None, f"unreadable re-keyed record: {exc}"[:200], None, position)
            continue
        if key is not None:
            at = message.timestamp  # the broker's time of the re-keyed record: replays judge alike
            verdict = dedup.classify(seen_messages.get(key), source, at, settings.dedup_window)
            if verdict is dedup.Verdict.DUPLICATE:
                OUTCOMES["duplicate"] += 1
                continue
            if verdict is dedup.Verdict.NEW:
                seen_messages[key] = dedup.mark(source, at)
        updated = count_event(event_counts.get(event.key), source)
        if updated is not None:
            event_counts[event.key] = updated
            OUTCOMES["counted"] += 1
