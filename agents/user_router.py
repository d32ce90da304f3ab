"""Stage 1: read ``clickstream`` and re-key each event by its raw user key onto ``events_by_user``.

Producers may key input records any way (or not at all); state about a user lives in tables partitioned by
that user's key, so every event is forwarded under its user key (Faust tables must be co-partitioned with
the stream that writes them). The record's input position travels along in a header, so the keyed stage
can tell a re-delivered record from a new one (``tastemaker.delivery``).
"""

from __future__ import annotations

import logging

import orjson

from app.main import app
from app.topics import clickstream, events_by_user
from tastemaker.delivery import HEADER, SourcePosition
from tastemaker.identity import raw_user_key

log = logging.getLogger(__name__)


@app.agent(clickstream)
async def route_by_user(stream):
    async for event in stream.events():
        raw = event.value
        try:
            body = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            body = None
        key = raw_user_key(body)
        if key is None:
            # Dead-lettering with a reason arrives with the ingestion stage; never crash on input.
            log.warning("skipped a clickstream record without JSON or user key (%d bytes)", len(raw or b""))
            continue
        message = event.message
        source = SourcePosition(message.topic, message.partition, message.offset)
        await events_by_user.send(key=key, value=raw, headers={HEADER: source.encode()})
