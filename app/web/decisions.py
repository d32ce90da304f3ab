"""``GET /decisions/{id}/stream``: a person's decisions as server-sent events, for pages.

Any worker can serve any person: each worker follows the whole ``personalization_decisions`` topic from its
end (app/topic_follower.py) and hands each decision to the streams open for one of the person's ids. So no
request is forwarded (``table_route`` proxies whole replies, which a stream never finishes) and a stream
outlives rebalances. ``{id}`` is any id of the person (userId, anonymousId, or the person id): decisions
carry every id of their person, so a visitor's stream keeps working after a login merged them.

    event: decision
    id: <decision id>
    data: {"decision_id": ..., "rule_id": ..., "action": ..., "payload": ..., ...}

Access (app/web/auth.py): a read token, or the visitor's own token for ``{id}``, as ``Authorization: Bearer``
or as ``?access_token=`` (EventSource cannot set headers). Caps: ``MAX_STREAMS_PER_ID`` per id (429) and
``TASTEMAKER_MAX_STREAMS`` on the worker as a whole (503); both answer with ``Retry-After``.
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
from app.web.auth import PERSON_READ, require
from app.web.errors import json_error

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies and browsers keep an idle stream open
QUEUE_SIZE = 100  # decisions waiting for one slow page; past it the oldest are dropped
MAX_STREAMS_PER_ID = 20
RETRY_AFTER = 30  # seconds: a page that was refused a stream tries again after this (streams end with visits)


class DecisionHub:
    """Open streams by id; each decision goes to the streams of every id it names."""

    def __init__(self, max_streams: int) -> None:
        self.streams: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.max_streams = max_streams
        self.open = 0
        self.dropped = 0

    def refusal(self, raw_id: str) -> tuple[int, str] | None:
        """(status, reason) when no stream may open now for ``raw_id``, else None."""
        if self.open >= self.max_streams:
            return 503, f"this worker holds its most open streams ({self.max_streams}); retry later"
        if len(self.streams.get(raw_id, ())) >= MAX_STREAMS_PER_ID:
            return 429, f"more than {MAX_STREAMS_PER_ID} open streams for this id"
        return None

    def subscribe(self, raw_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.streams[raw_id].add(queue)
        self.open += 1
        return queue

    def unsubscribe(self, raw_id: str, queue: asyncio.Queue) -> None:
        if queue in self.streams.get(raw_id, ()):
            self.open -= 1
            self.streams[raw_id].discard(queue)
        if not self.streams.get(raw_id):
            self.streams.pop(raw_id, None)

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


hub = DecisionHub(settings.max_streams)
follower = TopicFollower(
    settings.topic("personalization_decisions"), settings.bootstrap_servers, hub.publish, from_beginning=False
)
app.service(follower)


@app.page("/decisions/{person_id}/stream")
class DecisionStream(View):
    async def get(self, request, person_id: str):
        if refused := require(self, request, PERSON_READ, person_id, query_token=True):
            return refused
        if full := hub.refusal(person_id):
            status, reason = full
            return json_error(self, status, None if status == 503 else "id", reason, {"Retry-After": str(RETRY_AFTER)})
        queue = hub.subscribe(person_id)
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
        except ConnectionResetError:  # the page went away and the next write found out: the stream's normal end
            return response
        finally:  # the page went away (the write fails, or the server cancels the handler)
            hub.unsubscribe(person_id, queue)
