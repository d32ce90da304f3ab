"""From a message received over HTTP to the record put on an input topic.

    message (Segment spec) ──validate──▶ Invalid(field, reason)            -> listed in the 4xx / batch answer
                           ──accept────▶ Accepted(topic, key, value bytes) -> produced by the collector view

Accepting fills what a Segment library would (``messageId``), records when and from which source it
arrived (``receivedAt``, ``source``), corrects the event time for device clock skew (``timestamp``,
keeping the device's own as ``originalTimestamp``), anonymizes the IP, and drops the write key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tastemaker.identity import raw_user_key
from tastemaker.ingest.event_time import corrected_timestamp, format_iso
from tastemaker.ingest.privacy import anonymize_ip
from tastemaker.ingest.routing import Router
from tastemaker.ingest.segment_schema import Invalid, validate

MAX_MESSAGE_BYTES = 32 * 1024  # Segment's limit per message
MAX_BATCH_BYTES = 500 * 1024  # Segment's limit per request body


@dataclass(frozen=True)
class Accepted:
    topic: str
    key: str
    value: bytes
    message_id: str


TOO_LARGE = Invalid(None, f"message larger than {MAX_MESSAGE_BYTES // 1024} KB", status=413)


def check(message: Any) -> dict | Invalid:
    """The message, nulls removed, when it is a valid Segment message; else why it is not."""
    if isinstance(message, dict):
        # Segment's libraries send absent ids as null ("userId": null); null means absent.
        message = {k: v for k, v in message.items() if v is not None}
    problem = validate(message)
    return message if problem is None else problem


def inspect_record(raw: bytes | None) -> dict | Invalid:
    """A record read from an input topic, as written by any producer: the message, or why it is refused."""
    if not raw:
        return Invalid(None, "empty record")
    if len(raw) > MAX_MESSAGE_BYTES:
        return TOO_LARGE
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Invalid(None, f"not valid JSON ({exc.msg} at position {exc.pos})")
    message = check(message)
    if isinstance(message, dict) and raw_user_key(message) is None:
        return Invalid("userId", "userId or anonymousId must name somebody (not blank)")
    return message


def accept(
    message: Any, *, source: str, received_at: datetime, router: Router, client_ip: str | None = None
) -> Accepted | Invalid:
    message = check(message)
    if isinstance(message, Invalid):
        return message
    if len(orjson.dumps(message)) > MAX_MESSAGE_BYTES:
        return TOO_LARGE
    try:
        happened = corrected_timestamp(message.get("timestamp"), message.get("sentAt"), received_at)
    except (ValueError, OverflowError):
        field = "timestamp" if "timestamp" in message else "sentAt"
        return Invalid(field, f"{field} is not a valid ISO-8601 date-time")

    record = message  # check() made a copy of its own: fill it in place
    record.pop("writeKey", None)
    if "messageId" not in record:  # not setdefault: it would draw a random UUID for every message
        record["messageId"] = str(uuid.uuid4())
    if "timestamp" in record:
        record["originalTimestamp"] = record["timestamp"]
    record["timestamp"] = format_iso(happened)
    record["receivedAt"] = format_iso(received_at)
    record["source"] = source
    context = dict(record.get("context") or {})
    ip = anonymize_ip(str(context["ip"]) if context.get("ip") else client_ip)
    if ip:
        context["ip"] = ip
    else:
        context.pop("ip", None)
    record["context"] = context
    key = raw_user_key(record)
    if key is None:
        return Invalid("userId", "userId or anonymousId must name somebody (not blank)")
    value = orjson.dumps(record)
    if len(value) > MAX_MESSAGE_BYTES:  # the stream stage checks the stored record against the same limit
        return TOO_LARGE
    return Accepted(router.topic_for(record), key, value, record["messageId"])
