"""Bundles: the records of one partition travelling between two stream stages as one Kafka record.

Faust spends ~150 µs of CPU on every Kafka record it hands to an agent (consumer, conductor, stream, ack),
whatever the agent does: on this machine a decode-only Faust agent reads ~6,000 records/s where a bare
aiokafka consumer reads ~316,000 (bench/pipeline.py, /tmp experiment in the issue note). Between our own
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
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

import orjson

from tastemaker.partitioning import partition_for
from tastemaker.delivery import SourcePosition

MAX_ITEMS = 4096  # items per bundle; also the stride of item positions
MAX_BYTES = 512 * 1024  # per bundle: well under Kafka's default 1 MB message and producer request limits


def item(key: str, body: dict[str, Any], source: SourcePosition | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "body": body}
    if source is not None:
        out["src"] = source.encode().decode()
        if source.via:
            out["via"] = source.via
    return out


def source_of(entry: dict[str, Any]) -> SourcePosition | None:
    src = entry.get("src")
    if not src:
        return None
    position = SourcePosition.decode(src)
    return SourcePosition(position.topic, position.partition, position.offset, entry.get("via") or "")


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
        key = entry["key"]
        self._by_partition[partition_for(key.encode(), self.partitions)].append((key, orjson.dumps(entry)))

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
