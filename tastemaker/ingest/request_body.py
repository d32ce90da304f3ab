"""Reading a collector request: write key, content type, size limits, JSON.

Each failure is a ``Refused`` with the HTTP status and the JSON error the client gets, so the view only
translates. Statuses follow Segment's HTTP Tracking API: 400 bad JSON, 401 unknown write key, 413 too
large, 415 not JSON.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Mapping

import orjson

from tastemaker.ingest.collect import MAX_BATCH_BYTES

# navigator.sendBeacon sends a string body as text/plain; Segment's libraries send application/json.
ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")


@dataclass(frozen=True)
class Refused(Exception):
    status: int
    field: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        # "code" and "message" are what Segment's API answers and its client libraries read.
        return {
            "code": _CODES.get(self.status, "invalid_request"),
            "message": self.reason if self.field is None else f"{self.field}: {self.reason}",
            "error": {"status": self.status, "field": self.field, "reason": self.reason},
        }


_CODES = {401: "unauthorized", 413: "payload_too_large", 415: "unsupported_media_type", 503: "unavailable"}


def parse_write_keys(spec: str) -> dict[str, str]:
    """``key=source,key2=source2`` -> {key: source}."""
    keys = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, source = item.partition("=")
        if not sep or not key.strip() or not source.strip():
            raise ValueError(f"write key entry {item[:4]}... is not 'key=source'")
        keys[key.strip()] = source.strip()
    return keys


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """The request's JSON document. ``raw`` is the body as sent, after any gzip the server undid, and
    at most ``MAX_BATCH_BYTES + 1`` long (the reader stops there)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and media not in ACCEPTED_CONTENT_TYPES:
        raise Refused(415, "Content-Type", f"{media} is not accepted; send application/json")
    if len(raw) > MAX_BATCH_BYTES:
        raise Refused(413, None, f"body larger than {MAX_BATCH_BYTES // 1024} KB")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Refused(400, None, f"body is not valid JSON ({exc.msg} at position {exc.pos})") from None


def write_key_source(authorization: str | None, body: Any, keys: Mapping[str, str]) -> str:
    """The source name bound to the request's write key (HTTP Basic user name, or ``writeKey`` in the body)."""
    key = None
    if authorization and authorization[:6].lower() == "basic ":
        try:
            key = base64.b64decode(authorization[6:].strip(), validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            raise Refused(401, "Authorization", "Basic credentials are not valid base64") from None
    if not key and isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        key = body["writeKey"]
    if not key:
        raise Refused(401, "writeKey", "a write key is required (HTTP Basic user name or writeKey)")
    source = keys.get(key)
    if source is None:
        raise Refused(401, "writeKey", "unknown write key")
    return source
