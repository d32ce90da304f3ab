"""Duplicate messages: the same ``messageId`` from the same source within a window (default 24 h).

Clients retry: a Segment library that timed out resends the batch, a beacon fires twice. The per-user stage
keeps, for each (source, messageId), when it was first seen and *where* (its input position)::

    seen? no                         -> NEW: count it, remember (time, position)
    seen, same input position        -> REDELIVERY of that very record (after a crash): not a duplicate;
                                        the applied-offset watermark (tastemaker.delivery) decides
    seen, other position, in window  -> DUPLICATE: skip, count as duplicate
    seen, other position, too old    -> NEW again (the window has passed)

Remembering the position matters: a crash can persist the "seen" mark but not the state change it went
with, and the record's re-delivery must then still be applied, not discarded as its own duplicate.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Mapping

from tastemaker.delivery import SourcePosition


class Verdict(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    REDELIVERY = "redelivery"


def dedup_key(message: Mapping[str, Any]) -> str | None:
    """``source:messageId``, or None for a message without an id (it cannot be deduplicated)."""
    message_id = message.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return None
    return f"{message.get('source') or ''}:{message_id}"


def classify(seen: Mapping[str, Any] | None, position: SourcePosition, at: float, window: float) -> Verdict:
    if not seen:
        return Verdict.NEW
    if seen["src"] == position.text:
        return Verdict.REDELIVERY
    if at - seen["at"] > window:
        return Verdict.NEW
    return Verdict.DUPLICATE


def mark(position: SourcePosition, at: float) -> dict[str, Any]:
    return {"at": at, "src": position.text}
