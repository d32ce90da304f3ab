"""Bundles: the records of one partition travelling between two stream stages as one Kafka record.

Faust spends ~150-250 µs of CPU on every Kafka record it hands to an agent (consumer, conductor, stream,
ack), whatever the agent does: on the development machines a decode-only Faust agent reads ~4,000-6,000
records/s where a bare aiokafka consumer reads ~200,000-300,000 (``make bench-peers BENCH_RUNNERS=floor,
faust-decode``; docs/performance.md). Between our own
stages we therefore send one record per destination partition carrying many items, and Faust's cost is paid
once per bundle instead of once per event::

    stage A reads a batch ─▶ items grouped by partition_of(key) ─▶ one bundle per partition ─▶ stage B
                                                                   (sent to that partition explicitly)

A bundle only holds items whose keys hash to the partition it is sent to, so a table written while
processing it stays co-partitioned (Faust writes the changelog to the partition of the record being
processed), and ``table_route`` finds each key where the default partitioner would have put it.

Item (JSON)::

    {"key": "alice",                  the key the item would have had as a record of its own
     "src": "clickstream:3:41",       its input position (tastemaker/delivery.py), if it has one
     "via": "alice",                  the id it travels under, part of its exactly-once stream
     "body": {...}}                   the record itself: an event, a link, a command

An item's own position in the bundle topic, for what a stage sends because of it, is the bundle's offset
times ``MAX_ITEMS`` plus its index: increasing within the partition, as offsets are.

Any producer can write to the bundle topics, so a stage trusts no item: ``check_item`` refuses (``BadItem``,
which the stage dead-letters) an item that is not an object with a key and a body, is larger than
``MAX_ITEM_BYTES`` or nested deeper than ``MAX_ITEM_DEPTH``, or whose body does not have the fields and
types its ``kind`` needs (an event: the fields of ``models.event.Event``, times and amounts bounded; the
commands: the fields their handlers read). What passes can be applied, stored in a table and sent on
without failing on its shape; a kind it does not know is left to the stage, which refuses what it cannot
handle. ``BundleWriter.add``
refuses (``Unbundlable``) an item it cannot serialize or that no bundle could hold.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

import math

import orjson

from tastemaker.delivery import SourcePosition
from tastemaker.ingest.sanity import MAX_AMOUNT
from tastemaker.ingest.structure import MAX_DEPTH, structure_problem, walk
from tastemaker.partitioning import partition_for

MAX_ITEMS = 4096  # items per bundle; also the stride of item positions
MAX_BYTES = 512 * 1024  # per bundle: well under Kafka's default 1 MB message and producer request limits
MAX_ITEM_BYTES = MAX_BYTES  # one item alone still fits a bundle, so every bundle stays under Kafka's 1 MB
# An event's traits are at most MAX_DEPTH levels deep counting the message; the item envelope ({"body":
# {"traits": ...}}) and an absorb command (a profile holding traits) add a few levels: twice leaves room
# and is still far under orjson's 254-level encoding limit.
MAX_ITEM_DEPTH = 2 * MAX_DEPTH
MAX_FUTURE = 24 * 3600.0  # an item's times may lie this far past the wall clock (ingest allows 5 minutes)


class BadItem(ValueError):
    """A bundle item no stage can apply: the reason says why."""


class Unbundlable(ValueError):
    """An item that cannot be put in a bundle (not serializable, or larger than ``MAX_ITEM_BYTES``)."""


def item(key: str, body: dict[str, Any], source: SourcePosition | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "body": body}
    if source is not None:
        out["src"] = source.text
        if source.via:
            out["via"] = source.via
    return out


def source_of(entry: dict[str, Any]) -> SourcePosition | None:
    src = entry.get("src")
    if not src:
        return None
    return SourcePosition.decode(src, entry.get("via") or "")


def position_in_bundle(topic: str, partition: int, offset: int, index: int, via: str = "") -> SourcePosition:
    return SourcePosition(topic, partition, offset * MAX_ITEMS + index, via)


def pack(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"items": items})


def unpack(raw: bytes | None) -> list[dict[str, Any]]:
    """The items of a bundle; ValueError when the record is not one."""
    value = orjson.loads(raw or b"")
    items = value.get("items") if isinstance(value, dict) else None
    if not isinstance(items, list):
        raise ValueError("not a bundle: no items list")
    if len(items) > MAX_ITEMS:  # item positions would run into the next bundle's (position_in_bundle)
        raise ValueError(f"not a bundle: more than {MAX_ITEMS} items")
    return items


class BundleWriter:
    """Collects items by destination partition; ``bundles()`` gives (partition, first key, packed value),
    several per partition when one would pass ``MAX_ITEMS`` items or ``MAX_BYTES``."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        # partition -> [(key, serialized item)]: each item is serialized once, when added, so bundles can
        # be cut by size without serializing twice.
        self._by_partition: dict[int, list[tuple[str, bytes]]] = defaultdict(list)

    def add(self, entry: dict[str, Any]) -> None:
        """Add one item; ``Unbundlable`` (nothing added) when it cannot be serialized or is too large."""
        key = entry["key"]
        try:
            raw = orjson.dumps(entry)
        except TypeError as exc:
            raise Unbundlable(f"item cannot be serialized: {exc}") from None
        if len(raw) > MAX_ITEM_BYTES:
            raise Unbundlable(f"item larger than {MAX_ITEM_BYTES // 1024} KB")
        self._by_partition[partition_for(key.encode(), self.partitions)].append((key, raw))

    def __len__(self) -> int:
        return sum(map(len, self._by_partition.values()))

    def bundles(self) -> Iterator[tuple[int, str, bytes]]:
        for partition, entries in sorted(self._by_partition.items()):
            chunk: list[bytes] = []
            size, first = 0, ""
            for key, raw in entries:
                if chunk and (len(chunk) >= MAX_ITEMS or size + len(raw) > MAX_BYTES):
                    yield partition, first, _join(chunk)
                    chunk, size = [], 0
                if not chunk:
                    first = key
                chunk.append(raw)
                size += len(raw) + 1
            if chunk:
                yield partition, first, _join(chunk)
        self._by_partition.clear()


def _join(serialized: list[bytes]) -> bytes:
    return b'{"items":[' + b",".join(serialized) + b"]}"


def item_bytes(entry: Any) -> bytes:
    """An item as JSON, for a dead letter: what can be written of it (an item may be unserializable)."""
    try:
        return orjson.dumps(entry)
    except TypeError as exc:
        return orjson.dumps({"unserializable_item": str(exc)})


# --- what an item must look like (check_item) ---

def _text(value: Any) -> bool:
    return type(value) is str


def _texts(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)


def _object(value: Any) -> bool:
    return type(value) is dict


def _number(value: Any) -> bool:
    return (type(value) is float or type(value) is int) and math.isfinite(value)


# The fields of models.event.Event by kind of value (tests/unit/test_poison.py holds these to the record).
# Checked inline, group by group: this runs for every item of every bundle in two stages.
_EVENT_TEXTS = ("event_id", "source", "topic", "type", "key")  # required
_EVENT_TIMES = ("event_time", "received_at")  # required, epoch seconds
_EVENT_LISTS = ("item_ids", "clamped", "tags")  # required, lists of strings
_EVENT_OBJECTS = ("campaign", "geo", "traits")  # required
_EVENT_OPTIONAL_TEXTS = ("name", "anonymous_id", "user_id", "page_url", "page_path", "page_referrer", "page_title",
                         "category", "brand", "page_type", "page_view_id", "device_type", "locale", "ip",
                         "previous_id", "group_id", "bot_reason", "person")
_EVENT_AMOUNTS = ("price", "quantity", "revenue")  # optional, within +-MAX_AMOUNT (as ingest: sanity.py)
_EVENT_COUNTS = ("dwell_ms", "scroll_depth")  # optional, non-negative integers
#: Every field of an event body: name -> required.
EVENT_FIELDS: dict[str, bool] = {
    **dict.fromkeys(_EVENT_TEXTS + _EVENT_TIMES + _EVENT_LISTS + _EVENT_OBJECTS, True),
    **dict.fromkeys(_EVENT_OPTIONAL_TEXTS + _EVENT_AMOUNTS + _EVENT_COUNTS + ("is_bot",), False),
}
# The other kinds of item (tastemaker/identity.py, tastemaker/person.py): the fields each handler reads.
COMMAND_FIELDS: dict[str, dict[str, Any]] = {
    "link": {"person": _text},
    "command": {"command": _text, "at": _number},
    "forget_id": {"of": _text},
    "forget_tombstone": {"of": _text},
    "merge_into": {"target": _text},
    "absorb": {"ids": _texts, "applied": _object, "profile": _object},
    "unlink": {"id": _text},
    "tick": {"now": _number},
}


def _check_event(body: dict[str, Any], now: float) -> None:
    get = body.get
    for name in _EVENT_TEXTS:
        if type(get(name)) is not str:
            raise BadItem(f"body.{name} is required, a string")
    for name in _EVENT_TIMES:
        value = get(name)
        if not _number(value) or not 0 <= value <= now + MAX_FUTURE:
            raise BadItem(f"body.{name} is required, a time between 1970 and {MAX_FUTURE / 3600:g} h from now")
    for name in _EVENT_LISTS:  # _texts, inline: a call and a generator less for each of the three
        value = get(name)
        if type(value) is not list:
            raise BadItem(f"body.{name} is required, a list of strings")
        for text in value:
            if type(text) is not str:
                raise BadItem(f"body.{name} is required, a list of strings")
    for name in _EVENT_OBJECTS:
        if type(get(name)) is not dict:
            raise BadItem(f"body.{name} is required, an object")
    for name in _EVENT_OPTIONAL_TEXTS:
        value = get(name)
        if value is not None and type(value) is not str:
            raise BadItem(f"body.{name} must be a string")
    for name in _EVENT_AMOUNTS:
        value = get(name)
        if value is not None and not (_number(value) and -MAX_AMOUNT <= value <= MAX_AMOUNT):
            raise BadItem(f"body.{name} must be a number within +-{MAX_AMOUNT:g}")
    for name in _EVENT_COUNTS:
        value = get(name)
        if value is not None and not (type(value) is int and 0 <= value <= 2**53):
            raise BadItem(f"body.{name} must be a non-negative integer")
    if type(get("is_bot", False)) is not bool:
        raise BadItem("body.is_bot must be true or false")


def check_item(entry: Any, now: float) -> None:
    """Raise ``BadItem`` when a stage could not apply, store or forward ``entry`` whatever its state;
    ``now``: the wall clock (an item's times may not lie more than ``MAX_FUTURE`` past it)."""
    if type(entry) is not dict:
        raise BadItem("an item must be an object")
    key, body = entry.get("key"), entry.get("body")
    if type(key) is not str or not key:
        raise BadItem("an item needs a non-empty string key")
    if type(body) is not dict:
        raise BadItem("an item needs an object body")
    try:
        encoded = orjson.dumps(entry)
    except TypeError:
        problem = walk(entry, max_depth=MAX_ITEM_DEPTH)
        raise BadItem(f"{problem.field}: {problem.reason}" if problem else "item cannot be serialized") from None
    if len(encoded) > MAX_ITEM_BYTES:
        raise BadItem(f"item larger than {MAX_ITEM_BYTES // 1024} KB")
    problem = structure_problem(entry, encoded=encoded, max_depth=MAX_ITEM_DEPTH)
    if problem is not None:
        raise BadItem(f"{problem.field}: {problem.reason}")
    src = entry.get("src")
    if src is not None and type(src) is not str:
        raise BadItem("src must be a string")
    kind = body.get("kind", "event")
    if type(kind) is not str:
        raise BadItem("body.kind must be a string")
    if kind == "event":
        _check_event(body, now)
        return
    # A kind not listed here is left to the stage that reads it (each refuses kinds it does not know).
    fields = COMMAND_FIELDS.get(kind, {})
    for name, check in fields.items():
        if not check(body.get(name)):
            raise BadItem(f"body.{name} is missing or has the wrong type for {kind}")
    if kind in ("tick", "command"):
        at = body["now" if kind == "tick" else "at"]
        if not 0 <= at <= now + MAX_FUTURE:
            raise BadItem(f"body time is not between 1970 and {MAX_FUTURE / 3600:g} h from now")
