"""The Segment-compatible collector: ``POST /v1/{track,page,screen,identify,alias,group,batch,import}``.

Thin glue: ``tastemaker.ingest`` decides what is accepted and where it goes; this view reads the request,
produces the accepted records with the app's Kafka producer and answers only after Kafka has them
(acks from all in-sync replicas), so a 200 means the events are stored::

    client address (X-Forwarded-For only from trusted proxies) ─▶ its bucket empty? 429 + Retry-After
    body (500 KB, body deadline: 408) ─▶ JSON ─▶ write key ─▶ at most 2500 messages (413 "batch")
    rate limits, one token per message: write key's and client's buckets ─▶ 429 + Retry-After
    each message accepted or listed as rejected; stored bytes at most MAX_STORED_BYTES (413 "batch")
    produce, wait for the acks at most TASTEMAKER_PRODUCE_TIMEOUT ─▶ 200 | 503 + Retry-After

Broker outage: a request waits at most ``produce_timeout`` for Kafka's acknowledgements, then 503 with
Retry-After (Segment's libraries retry on 5xx and 429). Events the producer had already buffered may still
be stored when Kafka comes back, so a retried request can store an event twice; both copies carry the same
messageId and the identity stage counts it once (tastemaker/dedup.py). Nothing answered 200 is lost.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import orjson
from faust.web import ResourceOptions, View

from app.main import app, settings
from app.web.bodies import BadBody, read_body
from app.web.kafka_writes import RETRY_AFTER
from tastemaker.ingest.client_address import bucket_key, client_address, parse_networks
from tastemaker.ingest.collect import (
    MAX_BATCH_BYTES,
    MAX_BATCH_MESSAGES,
    MAX_STORED_BYTES,
    Accepted,
    accept,
)
from tastemaker.ingest.rate_limit import BucketTable, admit, retry_after_header
from tastemaker.ingest.request_body import Refused, decode_body, parse_write_keys, write_key_source
from tastemaker.ingest.routing import Router
from tastemaker.ingest.segment_schema import MESSAGE_TYPES

log = logging.getLogger(__name__)

WRITE_KEYS = parse_write_keys(settings.write_keys)
ROUTER = Router.from_spec(settings.event_routes)
CORS = {
    origin: ResourceOptions(allow_credentials=False, allow_headers="*", allow_methods=["POST"], max_age=3600)
    for origin in settings.cors_origins
}
# Segment's batch envelope: these top-level fields apply to every message that lacks its own.
BATCH_DEFAULTS = ("context", "integrations", "sentAt")

TRUSTED_PROXIES = parse_networks(",".join(settings.trusted_proxies))
# Sources are few (one per write key); client addresses are not: 100,000 buckets are ~20 MB at most.
KEY_BUCKETS = BucketTable(settings.rate_limit_per_key, max_keys=10_000) if settings.rate_limit_per_key else None
CLIENT_BUCKETS = (
    BucketTable(settings.rate_limit_per_client, max_keys=100_000) if settings.rate_limit_per_client else None
)


async def _read_body(request) -> bytes:
    """The body, inflated by aiohttp when sent with Content-Encoding gzip or deflate, read only up to one
    byte past the limit: a large (or decompression-bomb) body costs no more memory than the limit."""
    declared = request.content_length
    if declared is not None and declared > MAX_BATCH_BYTES and not request.headers.get("Content-Encoding"):
        raise Refused(413, None, f"body larger than {MAX_BATCH_BYTES // 1024} KB")
    try:
        return await read_body(request, MAX_BATCH_BYTES)
    except BadBody as bad:  # Segment's error shape, as every other collector refusal
        raise Refused(400, "Content-Encoding", bad.explanation) from None


async def _read(request) -> tuple[object, str]:
    body = decode_body(await _read_body(request), request.headers.get("Content-Type"))
    source = write_key_source(request.headers.get("Authorization"), body, WRITE_KEYS)
    return body, source


def _messages(body, kind: str | None) -> list:
    if kind is not None:
        if not isinstance(body, dict):
            raise Refused(400, None, "body must be a JSON object")
        return [{**body, "type": kind}]
    batch = body.get("batch") if isinstance(body, dict) else None
    if not isinstance(batch, list) or not batch:
        raise Refused(400, "batch", "batch must be a non-empty array of messages")
    if len(batch) > MAX_BATCH_MESSAGES:
        raise Refused(413, "batch", f"more than {MAX_BATCH_MESSAGES} messages in one batch")
    defaults = {k: body[k] for k in BATCH_DEFAULTS if k in body}
    if defaults:
        # What the envelope alone would add to the stored records, refused before any of them is built.
        lacking = sum(1 for m in batch if isinstance(m, dict) and any(k not in m for k in defaults))
        try:
            envelope = len(orjson.dumps(defaults))
        except orjson.JSONEncodeError:  # nested too deep to encode: each message is refused for it (check)
            envelope = 0
        if lacking * envelope > MAX_STORED_BYTES:
            raise Refused(413, "batch", _too_much_stored())
    return [{**defaults, **m} if isinstance(m, dict) else m for m in batch]


def _too_much_stored() -> str:
    return (f"the batch would store more than {MAX_STORED_BYTES // 1024} KB (its context is copied into every "
            f"message); send fewer messages per batch or a smaller context")


def _too_many(web: View, wait: float, field: str | None, whose: str):
    refused = Refused(429, field, f"too many events from this {whose}; retry after {retry_after_header(wait)} s")
    answer = {**refused.as_json(), "code": "rate_limited"}
    return web.json(answer, status=429, headers={"Retry-After": retry_after_header(wait)})


async def _produce(records: list[Accepted]) -> None:
    sends = [
        await app.producer.send(settings.topic(r.topic), r.key.encode(), r.value, None, None, None)
        for r in records
    ]
    await asyncio.gather(*sends)


async def _collect(web: View, request, kind: str | None):
    received_at = datetime.now(timezone.utc)
    client = client_address(request.remote, request.headers.getall("X-Forwarded-For", ()), TRUSTED_PROXIES)
    client_key = bucket_key(client)
    loop = asyncio.get_running_loop()
    if CLIENT_BUCKETS is not None and (wait := CLIENT_BUCKETS.wait(client_key, 1, loop.time())):
        return _too_many(web, wait, None, "client address")  # in debt: not even the body is read
    try:
        body, source = await _read(request)
        messages = _messages(body, kind)
    except Refused as refused:
        if CLIENT_BUCKETS is not None:
            CLIENT_BUCKETS.take(client_key, 1, loop.time())  # a refused request costs one event
        return web.json(refused.as_json(), status=refused.status)

    now, cost = loop.time(), len(messages)
    if wait := admit(now, cost, (KEY_BUCKETS, source), (CLIENT_BUCKETS, client_key)):
        by_key = KEY_BUCKETS is not None and KEY_BUCKETS.wait(source, cost, now) > 0
        return _too_many(web, wait, "writeKey" if by_key else None, "write key" if by_key else "client address")

    accepted, rejected, stored = [], [], 0
    for index, message in enumerate(messages):
        outcome = accept(message, source=source, received_at=received_at, router=ROUTER, client_ip=client)
        if isinstance(outcome, Accepted):
            stored += len(outcome.value)
            if stored > MAX_STORED_BYTES:
                refused = Refused(413, "batch", _too_much_stored())
                return web.json(refused.as_json(), status=refused.status)
            accepted.append(outcome)
        elif kind is not None:
            refused = Refused(outcome.status, outcome.field, outcome.reason)
            return web.json(refused.as_json(), status=refused.status)
        else:
            rejected.append({"index": index, **outcome.as_json()})

    if not accepted:
        answer = Refused(400, "batch", "no message in the batch is valid").as_json()
        answer["rejected"] = rejected
        return web.json(answer, status=400)
    try:
        await asyncio.wait_for(_produce(accepted), settings.produce_timeout)
    except Exception as exc:  # Kafka unavailable or slow: the client should retry, as Segment's libraries do
        reason = "not acknowledged in time" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
        log.warning("collector could not store %d events: %s", len(accepted), reason)
        refused = Refused(503, None, f"events could not be stored ({reason}); retry later")
        return web.json(refused.as_json(), status=503, headers={"Retry-After": RETRY_AFTER})
    answer = {"success": True, "accepted": len(accepted)}
    if kind is None:
        answer["rejected"] = rejected
    return web.json(answer, status=200)


def _collector(kind: str | None) -> type[View]:
    class Collect(View):
        async def post(self, request):
            return await _collect(self, request, kind)

    Collect.__name__ = Collect.__qualname__ = f"Collect{(kind or 'batch').title()}"
    return Collect


for _kind in MESSAGE_TYPES:
    app.page(f"/v1/{_kind}", cors_options=CORS, name=f"collect_{_kind}")(_collector(_kind))
# Segment serves the batch endpoint under both names.
for _path in ("/v1/batch", "/v1/import"):
    app.page(_path, cors_options=CORS, name=f"collect_{_path[4:]}")(_collector(None))
