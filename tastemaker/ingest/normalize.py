"""From a valid Segment message to the fields of the internal event record (``models.event.Event``).

    Segment message ──▶ ids, type/name, times ─▶ page ─▶ items, price ─▶ engagement ─▶ context ─▶ limits
                         (skew-corrected)       (props,   (e-commerce     (dwell_ms,    (device,    (clamp or
                                                 context)  spec v2)        scroll_depth) UTM, IP)    refuse)

One function, so that the collector's messages and any other producer's records end up alike. Messages the
collector accepted carry ``receivedAt`` and an already-corrected ``timestamp``; direct producers' records are
corrected here against the Kafka record time. Wrong-typed values of the fields read here are refused with
the field's path (the schema only checks Segment's envelope).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

from tastemaker.identity import clean_id
from tastemaker.ingest.event_time import corrected_timestamp, parse_iso
from tastemaker.ingest.privacy import anonymize_ip
from tastemaker.ingest.sanity import Limits, apply_limits
from tastemaker.ingest.segment_schema import Invalid
from tastemaker.ingest.user_agent import classify, device_type_of

MAX_ITEM_IDS = 50
MAX_TAGS, MAX_TAG_LENGTH = 20, 64  # a "Product List Viewed" of a whole catalogue page is still one event
_CAMPAIGN_FIELDS = ("name", "source", "medium", "term", "content")
_GEO_FIELDS = ("country", "region", "city")  # not latitude/longitude: coarse is enough, and less personal


class _Refused(Exception):
    def __init__(self, invalid: Invalid) -> None:
        self.invalid = invalid


def normalize(
    message: Mapping[str, Any], *, topic: str, record_time: float, fallback_id: str, limits: Limits = Limits(),
    now: float | None = None,
) -> dict[str, Any] | Invalid:
    """The ``Event`` fields of ``message`` (read from input ``topic``), or why it is refused.

    ``now``: the wall clock, which no received time may pass (sanity.py); None for a replay of history."""
    try:
        return _normalize(message, topic, record_time, fallback_id, limits, now)
    except _Refused as refused:
        return refused.invalid


def _normalize(message: Mapping[str, Any], topic: str, record_time: float, fallback_id: str, limits: Limits,
               now: float | None):
    kind = message["type"]
    props = _mapping(message, "properties")
    context = _mapping(message, "context")
    page_context = _mapping(context, "page", "context.page")
    anonymous_id, user_id = clean_id(message.get("anonymousId")), clean_id(message.get("userId"))
    event: dict[str, Any] = {
        "event_id": message.get("messageId") or fallback_id,
        "source": message.get("source") or f"kafka:{topic}",
        "topic": topic,
        "type": kind,
        "name": _text(message.get("event") if kind == "track" else message.get("name")),
        "key": user_id or anonymous_id,  # raw_user_key(message), its two ids cleaned once
        "anonymous_id": anonymous_id,
        "user_id": user_id,
        **_times(message, record_time),
    }

    # Page: a page call's own properties first (Segment's page spec), then context.page (any call).
    own = props if kind in ("page", "screen") else {}
    for name in ("url", "path", "referrer", "title"):
        event[f"page_{name}"] = _text(own.get(name)) or _text(page_context.get(name))
    if event["page_url"] and not event["page_path"]:
        event["page_path"] = urlsplit(event["page_url"]).path or "/"

    event["item_ids"] = _item_ids(props)
    event["category"] = _text(props.get("category"))
    event["brand"] = _text(props.get("brand"))
    event["tags"] = _tags(props)
    event["page_type"] = _text(props.get("page_type"))
    event["price"] = _number(props, "price")
    event["quantity"] = _number(props, "quantity")
    event["revenue"] = _number(props, "revenue")
    if event["revenue"] is None:
        event["revenue"] = _number(props, "total")
    dwell = _number(props, "dwell_ms")
    event["dwell_ms"] = None if dwell is None else int(dwell)
    scroll = _number(props, "scroll_depth")
    event["scroll_depth"] = None if scroll is None else int(round(scroll))
    event["page_view_id"] = _text(props.get("page_view_id"))

    user_agent = context.get("userAgent")
    client = classify(user_agent.strip()) if isinstance(user_agent, str) and user_agent.strip() else None
    event["device_type"] = client.device_type if client else device_type_of(context.get("device"))
    event["is_bot"] = bool(client and client.is_bot)
    event["bot_reason"] = "user_agent" if event["is_bot"] else None
    event["locale"] = _text(context.get("locale"))
    event["campaign"] = _campaign(context, event["page_url"])
    event["ip"] = anonymize_ip(str(context["ip"])) if context.get("ip") else None
    location = context.get("location") if isinstance(context.get("location"), dict) else {}
    event["geo"] = {k: location[k] for k in _GEO_FIELDS if isinstance(location.get(k), str) and location[k]}
    event["traits"] = dict(_mapping(message, "traits")) if kind in ("identify", "group") else {}
    event["previous_id"] = clean_id(message.get("previousId"))
    event["group_id"] = clean_id(message.get("groupId"))
    event["person"] = None

    clamped = apply_limits(event, limits, now)
    if isinstance(clamped, Invalid):
        return clamped
    event["clamped"] = clamped
    return event


def _times(message: Mapping[str, Any], record_time: float) -> dict[str, float]:
    field = "receivedAt"
    try:
        if message.get("receivedAt"):  # through the collector: timestamp is already corrected
            received = parse_iso(str(message["receivedAt"]))
            field = "timestamp"
            happened = parse_iso(str(message["timestamp"])) if message.get("timestamp") else received
        else:
            received = datetime.fromtimestamp(record_time, timezone.utc)
            field = "timestamp"
            happened = corrected_timestamp(message.get("timestamp"), message.get("sentAt"), received)
    except (ValueError, OverflowError, TypeError):
        raise _Refused(Invalid(field, f"{field} is not a valid ISO-8601 date-time")) from None
    return {"event_time": happened.timestamp(), "received_at": received.timestamp()}


def _mapping(container: Mapping[str, Any], name: str, path: str | None = None) -> Mapping[str, Any]:
    value = container.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Refused(Invalid(path or name, f"{path or name} must be an object"))
    return value


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(props: Mapping[str, Any], name: str) -> float | None:
    """A number, or a string holding one (many sites send prices as "12.99"); anything else is refused."""
    value = props.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Refused(Invalid(f"properties.{name}", f"{name} must be a number"))
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise _Refused(Invalid(f"properties.{name}", f"{name} must be a number")) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _Refused(Invalid(f"properties.{name}", f"{name} must be a finite number"))
    return number


def _item_ids(props: Mapping[str, Any]) -> list[str]:
    ids: list[str] = []
    candidates = [props.get("product_id"), props.get("item_id")]
    products = props.get("products")
    if isinstance(products, list):
        candidates += [p.get("product_id") for p in products if isinstance(p, dict)]
    for candidate in candidates:
        item = clean_id(candidate)
        if item and item not in ids:
            ids.append(item)
    return ids[:MAX_ITEM_IDS]


def _tags(props: Mapping[str, Any]) -> list[str]:
    """``properties.tags``: a list of strings, or one comma-separated string; bounded."""
    value = props.get("tags")
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise _Refused(Invalid("properties.tags", "tags must be a list of strings"))
    tags: list[str] = []
    for tag in value:
        tag = _text(tag)
        if tag and tag[:MAX_TAG_LENGTH] not in tags:
            tags.append(tag[:MAX_TAG_LENGTH])
    return tags[:MAX_TAGS]


def _campaign(context: Mapping[str, Any], page_url: str | None) -> dict[str, str]:
    given = context.get("campaign") if isinstance(context.get("campaign"), dict) else {}
    campaign = {k: given[k] for k in _CAMPAIGN_FIELDS if isinstance(given.get(k), str) and given[k]}
    if not campaign and page_url:
        query = parse_qs(urlsplit(page_url).query)
        for name in _CAMPAIGN_FIELDS:
            values = query.get("utm_campaign" if name == "name" else f"utm_{name}")
            if values and values[0]:
                campaign[name] = values[0]
    return campaign
