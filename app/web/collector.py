"""The Segment-compatible collector: ``POST /v1/{track,page,screen,identify,alias,group,batch,import}``.

Thin glue: ``tastemaker.ingest`` decides what is accepted and where it goes; this view reads the request,
produces the accepted records with the app's Kafka producer and answers only after Kafka has them
(acks from all in-sync replicas), so a 200 means the events are stored.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from faust.web import ResourceOptions, View

from app.main import app, settings
from app.web.bodies import read_body
from tastemaker.ingest.collect import MAX_BATCH_BYTES, Accepted, accept
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


async def _read_body(request) -> bytes:
    """The body, inflated by aiohttp when sent with Content-Encoding gzip or deflate, read only up to one
    byte past the limit: a large (or decompression-bomb) body costs no more memory than the limit."""
    declared = request.content_length
    if declared is not None and declared > MAX_BATCH_BYTES and not request.headers.get("Content-Encoding"):
        raise Refused(413, None, f"body larger than {MAX_BATCH_BYTES // 1024} KB")
    return await read_body(request, MAX_BATCH_BYTES)


async def _read(request) -> tuple[object, str]:
    body = decode_body(await _read_body(request), request.headers.get("Content-Type"))
    source = write_key_source(request.headers.get("Authorization"), body, WRITE_KEYS)
    return body, source


async def _produce(records: list[Accepted]) -> None:
    sends = [
        await app.producer.send(settings.topic(r.topic), r.key.encode(), r.value, None, None, None)
        for r in records
    ]
    await asyncio.gather(*sends)


async def _collect(web: View, request, kind: str | None):
    received_at = datetime.now(timezone.utc)
    try:
        body, source = await _read(request)
        if kind is None:
            batch = body.get("batch") if isinstance(body, dict) else None
            if not isinstance(batch, list) or not batch:
                raise Refused(400, "batch", "batch must be a non-empty array of messages")
            defaults = {k: body[k] for k in BATCH_DEFAULTS if k in body}
            messages = [{**defaults, **m} if isinstance(m, dict) else m for m in batch]
        else:
            if not isinstance(body, dict):
                raise Refused(400, None, "body must be a JSON object")
            messages = [{**body, "type": kind}]
    except Refused as refused:
        return web.json(refused.as_json(), status=refused.status)

    accepted, rejected = [], []
    for index, message in enumerate(messages):
        outcome = accept(message, source=source, received_at=received_at, router=ROUTER, client_ip=request.remote)
        if isinstance(outcome, Accepted):
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
        await _produce(accepted)
    except Exception as exc:  # Kafka unavailable: the client should retry, as Segment's libraries do
        log.warning("collector could not produce %d events: %s", len(accepted), type(exc).__name__)
        return web.json(Refused(503, None, "events could not be stored; retry later").as_json(), status=503)
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
