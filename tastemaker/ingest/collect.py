"""From a message received over HTTP to the record put on an input topic.

    message (Segment spec) ──validate──▶ Invalid(field, reason)            -> listed in the 4xx / batch answer
                           ──accept────▶ Accepted(topic, key, value bytes) -> produced by the collector view

Both paths refuse the same things (``check``): the Segment schema's envelope (``segment_schema``), values no
stage can carry (nesting, numbers, keys: ``structure``), and NUL characters in ids.

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
from tastemaker.ingest.structure import structure_problem

MAX_MESSAGE_BYTES = 32 * 1024  # Segment's limit per message
MAX_BATCH_BYTES = 500 * 1024  # Segment's limit per request body
# Segment's HTTP Tracking API documents, for /v1/batch: "a maximum of 500KB per batch API request. Each
# batch request can only have up to 2500 events, and each batched event needs to be less than 32KB"
# (segment-docs, src/connections/sources/catalog/libraries/server/http-api/index.md, "Errors"; Segment
# itself answers 200 and drops such events, Tastemaker refuses the request with 413 naming ``batch``).
MAX_BATCH_MESSAGES = 2500
# What one request may put on the topics: /v1/batch copies the batch's ``context`` (and ``integrations``)
# into every message lacking its own, so 500 KB of request could otherwise become 2500 x 32 KB = 80 MB
# stored. Three times the body limit leaves room for the enrichment every message gets (messageId,
# timestamp, originalTimestamp, receivedAt, source, ip: ~250 bytes, so ~610 KB for 2500 tiny messages) and
# for a modest shared context; beyond it the request is refused with 413 naming ``batch``.
MAX_STORED_BYTES = 3 * MAX_BATCH_BYTES


@dataclass(frozen=True)
class Accepted:
    topic: str
    key: str
    value: bytes
    message_id: str


TOO_LARGE = Invalid(None, f"message larger than {MAX_MESSAGE_BYTES // 1024} KB", status=413)
# Fields that name something (a person, a message, a group, an event) and become Kafka and table keys, URL
# path segments and rule operands: a NUL in one is refused. NUL elsewhere in values is kept (structure.py).
NAMING_FIELDS = ("userId", "anonymousId", "previousId", "groupId", "messageId", "event")


def check(message: Any, encoded: bytes | None = None) -> dict | Invalid:
    """The message, nulls removed, when it is a valid Segment message every stage can carry; else why not.

    ``encoded``: the message's JSON when the caller has it (the record as read), for the structure check."""
    checked = _check(message, encoded)
    return checked if isinstance(checked, Invalid) else checked[0]


def _check(message: Any, encoded: bytes | None) -> tuple[dict, bytes] | Invalid:
    if isinstance(message, dict):
        # Segment's libraries send absent ids as null ("userId": null); null means absent.
        message = {k: v for k, v in message.items() if v is not None}
    problem = validate(message)
    if problem is not None:
        return problem
    if encoded is None:
        try:
            encoded = orjson.dumps(message)
        except TypeError:  # too deep for orjson, or not JSON at all: the walk names the field
            return structure_problem(message) or Invalid(None, "the message cannot be encoded as JSON")
    problem = structure_problem(message, encoded=encoded)
    if problem is not None:
        return problem
    for name in NAMING_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and "\x00" in value:
            return Invalid(name, f"{name} must not contain a NUL character")
    return message, encoded


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
    message = check(message, raw)
    if isinstance(message, dict) and raw_user_key(message) is None:
        return Invalid("userId", "userId or anonymousId must name somebody (not blank)")
    return message


def accept(
    message: Any, *, source: str, received_at: datetime, router: Router, client_ip: str | None = None
) -> Accepted | Invalid:
    checked = _check(message, None)
    if isinstance(checked, Invalid):
        return checked
    message, encoded = checked
    if len(encoded) > MAX_MESSAGE_BYTES:
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
