"""``GET /decisions/{id}/stream``: a person's decisions as server-sent events, for pages.

Any worker can serve any person: each worker follows the whole ``personalization_decisions`` topic from its
end (app/topic_follower.py) and hands each decision to the streams open for one of the person's ids. So no
request is forwarded (``table_route`` proxies whole replies, which a stream never finishes) and a stream
outlives rebalances. ``{id}`` is any id of the person (userId, anonymousId, or the person id): decisions
carry every id of their person, so a visitor's stream keeps working after a login merged them.

    event: decision
    id: <decision id>
    data: {"decision_id": ..., "rule_id": ..., "action": ..., "payload": ..., ...}
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import orjson
from aiohttp import web as aiohttp_web
from faust.web import View

from app.main import app, settings
from app.topic_follower import TopicFollower
from app.web.errors import json_error

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies and browsers keep an idle stream open
QUEUE_SIZE = 100  # decisions waiting for one slow page; past it the oldest are dropped
MAX_STREAMS_PER_ID = 20


class DecisionHub:
    """Open streams by id; each decision goes to the streams of every id it names."""

    def __init__(self) -> None:
        self.streams: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.dropped = 0

    def subscribe(self, raw_id: str) -> asyncio.Queue | None:
        if len(self.streams[raw_id]) >= MAX_STREAMS_PER_ID:
            return None
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.streams[raw_id].add(queue)
        return queue

    def unsubscribe(self, raw_id: str, queue: asyncio.Queue) -> None:
        self.streams[raw_id].discard(queue)
        if not self.streams[raw_id]:
            del self.streams[raw_id]

    def publish(self, key: bytes | None, value: bytes | None) -> None:
        if not value or not self.streams:
            return
        try:
            decision = orjson.loads(value)
            ids = {str(i) for i in decision.get("ids") or ()} | {str(decision.get("person"))}
        except (ValueError, AttributeError, TypeError):
            return  # not ours to judge: the topic is open to any producer
        for raw_id in ids & self.streams.keys():
            for queue in self.streams[raw_id]:
                if queue.full():
                    queue.get_nowait()
                    self.dropped += 1
                queue.put_nowait(value)


hub = DecisionHub()
follower = TopicFollower(
    settings.topic("personalization_decisions"), settings.bootstrap_servers, hub.publish, from_beginning=False
)
app.service(follower)


@app.page("/decisions/{person_id}/stream")
class DecisionStream(View):
    async def get(self, request, person_id: str):
        queue = hub.subscribe(person_id)
        if queue is None:
            return json_error(self, 429, "id", f"more than {MAX_STREAMS_PER_ID} open streams for this id")
        try:
            headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            origin = request.headers.get("Origin")
            if origin and ("*" in settings.cors_origins or origin in settings.cors_origins):
                headers["Access-Control-Allow-Origin"] = origin
            response = aiohttp_web.StreamResponse(headers=headers)
            await response.prepare(request)
            await response.write(b": connected\n\n")
            while True:
                try:
                    value = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except asyncio.TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                decision_id = orjson.loads(value).get("decision_id", "")
                await response.write(b"event: decision\nid: %s\ndata: %s\n\n" % (str(decision_id).encode(), value))
        finally:  # the page went away (the write fails, or the server cancels the handler)
            hub.unsubscribe(person_id, queue)
