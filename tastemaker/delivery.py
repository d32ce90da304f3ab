"""Exactly-once effect on state from at-least-once delivery.

Kafka consumers (Faust included) deliver a record again after a crash, and faust-streaming 0.15.3 also
re-delivers records read while it seeks to the committed offsets at the end of a rebalance. A stage that
adds to state (counters, windows, profiles) must therefore recognise a record it has already applied.

Each record is identified by where it entered Tastemaker: the input topic, partition and offset. The stage
that re-keys a record carries that position along (a header), and the keyed stage keeps, inside the very
state value it updates, the highest input offset applied per input partition::

    clickstream p3 @41 ─route─▶ events_by_user (key alice, header clickstream:3:41)
                                      │ applied["clickstream:3"] = 40  ->  41 > 40: apply, store 41
    re-delivered @41 (or re-routed) ──┘ 41 <= 41: skip

Because the watermark and the state change are one table value, one changelog record, they are restored
together: no crash can apply an event without recording it or record it without applying it. Records of
one input partition keep their order through the re-key (one producer, one destination partition per key),
so a single number per input partition suffices; the map holds at most one entry per input partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

HEADER = "tm-source"


@dataclass(frozen=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int

    @property
    def stream(self) -> str:
        return f"{self.topic}:{self.partition}"

    def encode(self) -> bytes:
        return f"{self.topic}:{self.partition}:{self.offset}".encode()

    @classmethod
    def decode(cls, raw: bytes | str) -> "SourcePosition":
        text = raw.decode() if isinstance(raw, bytes) else raw
        topic, partition, offset = text.rsplit(":", 2)
        return cls(topic, int(partition), int(offset))


def is_applied(applied: Mapping[str, int], position: SourcePosition) -> bool:
    """True when a record at ``position`` (or after it, in the same input partition) was applied."""
    return position.offset <= applied.get(position.stream, -1)


def mark_applied(applied: Mapping[str, int], position: SourcePosition) -> dict[str, int]:
    return {**applied, position.stream: max(position.offset, applied.get(position.stream, -1))}
