"""Writes a view makes to Kafka (person commands, items, rules), bounded in time like the collector's
(which answers in Segment's error shape, with the same ``RETRY_AFTER``).

    view ──▶ bounded(web, send) ──▶ acknowledged within TASTEMAKER_PRODUCE_TIMEOUT: None, the view answers
                               └──▶ Kafka does not acknowledge in time, or refuses: 503 + Retry-After

Faust's producer waits up to its request timeout (20 minutes) for a broker that is down, so an unbounded
write would hold the request that long. A write that timed out may still be delivered later (the producer
had buffered it): every one of these writes is idempotent (a command applied twice has one effect; items and
rules are the latest value of their key), so a client's retry is safe.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable

from app.main import settings
from app.web.errors import json_error
from tastemaker.ingest.rate_limit import retry_after_header

log = logging.getLogger(__name__)

RETRY_AFTER = retry_after_header(settings.produce_timeout)


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
