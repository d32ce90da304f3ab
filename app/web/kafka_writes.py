"""Writes a view makes to Kafka (person commands, items, rules), bounded in time like the collector's
(which answers in Segment's error shape, with the same ``RETRY_AFTER``).

    view ──▶ bounded(web, send) ──▶ acknowledged within TASTEMAKER_PRODUCE_TIMEOUT: None, the view answers
                               └──▶ Kafka does not acknowledge in time, or refuses: 503 + Retry-After
    view ──▶ write_visible(web, send, visible) ──▶ bounded(web, send), then ``visible()`` polled until true:
                               None, the view answers │ 503 as above │ not true within VISIBLE_WITHIN: 504

``write_visible`` is for the compacted topics every worker follows (items: app/web/items.py, rules:
app/web/rules.py): the answer comes once this worker's own copy shows the change, so a read right after it
sees it.

Faust's producer waits up to its request timeout (20 minutes) for a broker that is down, so an unbounded
write would hold the request that long. A write that timed out may still be delivered later (the producer
had buffered it): every one of these writes is idempotent (a command applied twice has one effect; items and
rules are the latest value of their key), so a client's retry is safe.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from app.main import settings
from app.web.errors import json_error
from tastemaker.ingest.rate_limit import retry_after_header

log = logging.getLogger(__name__)

RETRY_AFTER = retry_after_header(settings.produce_timeout)
VISIBLE_WITHIN = 10.0  # seconds a change may take to come back from Kafka to this worker


async def bounded(web, send: Awaitable[object]):
    """None once ``send`` is done and what it gives (a future of Kafka's acknowledgement, or a list of
    them, as ``topic.send`` and ``send_bundles`` give) is acknowledged; else the 503 answer."""
    try:
        await asyncio.wait_for(_acknowledged(send), settings.produce_timeout)
    except Exception as exc:  # noqa: BLE001 - a timeout or a refused send: the client retries later
        log.warning("a write to Kafka was not acknowledged (%s): answered 503", type(exc).__name__)
        return json_error(web, 503, None, "Kafka did not acknowledge the write; retry later",
                          headers={"Retry-After": RETRY_AFTER})
    return None


async def _acknowledged(send: Awaitable[object]) -> None:
    sent = await send
    await asyncio.gather(*(sent if isinstance(sent, list) else [sent]))


async def write_visible(web, send: Awaitable[object], visible: Callable[[], bool], poll: float,
                        within: float = VISIBLE_WITHIN):
    """None once ``send`` is acknowledged (``bounded``) and then ``visible()`` is true, checked every ``poll``
    seconds; else the answer: ``bounded``'s 503, or 504 when ``visible()`` is still false ``within`` seconds
    after the acknowledgement (the write stands: Kafka has it)."""
    if unavailable := await bounded(web, send):
        return unavailable
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not visible():
        if loop.time() > deadline:
            return json_error(web, 504, None, "written, but not yet visible on this worker")
        await asyncio.sleep(poll)
    return None
