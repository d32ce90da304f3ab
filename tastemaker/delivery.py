"""Exactly-once effect on state from at-least-once delivery.

Kafka consumers (Faust included) deliver a record again after a crash, and faust-streaming 0.15.3 also
re-delivers records read while it seeks to the committed offsets at the end of a rebalance. A stage that
adds to state (counters, windows, profiles) must therefore recognise a record it has already applied.

Each record is identified by where it entered Tastemaker: the input topic, partition and offset, plus
the id it travels under (``via``: the raw user id for events, the sending person for identity commands).
Each stage that re-keys a record carries that position along (headers), and the stage that keeps state
keeps, inside the very state value it updates, the highest offset applied per (input partition, via)::

    clickstream p3 @41 ─▶ events_by_id (key alice) ─▶ events_by_person (key person-of-alice,
                                                        headers clickstream:3:41, via alice)
                             │ applied["clickstream:3|alice"] = 40  ->  41 > 40: apply, store 41
    re-delivered @41 ────────┘ (by any stage, after a crash)          41 <= 41: skip

Because the watermark and the state change are one table value, one changelog record, they are restored
together: no crash can apply an event without recording it or record it without applying it. The records
of one input partition *for one id* keep their order through every hop (one producer per partition, one
destination partition per key), which is why ``via`` is part of the stream: a person receives the records
of its several ids through different partitions of the hop before, interleaved in any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

HEADER = "tm-source"
VIA_HEADER = "tm-via"


@dataclass(frozen=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int
    via: str = ""

    def __init__(self, topic: str, partition: int, offset: int, via: str = "") -> None:
        # Several are made per event and item: the generated frozen __init__ sets each field through
        # object.__setattr__, about three times the cost of filling the instance's dict.
        self.__dict__.update(topic=topic, partition=partition, offset=offset, via=via)

    @property
    def stream(self) -> str:
        if self.via:
            return f"{self.topic}:{self.partition}|{self.via}"
        return f"{self.topic}:{self.partition}"

    def with_via(self, via: str) -> "SourcePosition":
        """This position travelling under ``via``: ``dataclasses.replace(self, via=via)`` at a third of its cost
        (replace looks the fields up on every call; the identity stage does it for every item)."""
        return SourcePosition(self.topic, self.partition, self.offset, via)

    @property
    def text(self) -> str:
        """``topic:partition:offset``, as ``encode`` gives it, as text (bundle items' ``src``, dedup marks)."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def headers(self) -> dict[str, bytes]:
        headers = {HEADER: self.encode()}
        if self.via:
            headers[VIA_HEADER] = self.via.encode()
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes] | None) -> "SourcePosition | None":
        headers = headers or {}
        raw = headers.get(HEADER)
        if not raw:
            return None
        position = cls.decode(raw)
        via = headers.get(VIA_HEADER)
        return cls(position.topic, position.partition, position.offset, via.decode() if via else "")

    def encode(self) -> bytes:
        return f"{self.topic}:{self.partition}:{self.offset}".encode()

    @classmethod
    def decode(cls, raw: bytes | str, via: str = "") -> "SourcePosition":
        text = raw.decode() if isinstance(raw, bytes) else raw
        topic, partition, offset = text.rsplit(":", 2)
        return cls(topic, int(partition), int(offset), via)


def is_applied(applied: Mapping[str, int], position: SourcePosition) -> bool:
    """True when a record at ``position`` (or after it, in the same input partition) was applied."""
    return position.offset <= applied.get(position.stream, -1)


def mark_applied(applied: Mapping[str, int], position: SourcePosition) -> dict[str, int]:
    stream = position.stream
    return {**applied, stream: max(position.offset, applied.get(stream, -1))}


def merge_applied(one: Mapping[str, int], other: Mapping[str, int]) -> dict[str, int]:
    """Watermarks of two merged states: both states' records are in the merged one."""
    merged = dict(one)
    for stream, offset in other.items():
        merged[stream] = max(offset, merged.get(stream, -1))
    return merged
