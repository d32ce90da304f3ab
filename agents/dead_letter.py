"""Where every stage sends what it refuses, and the outcome counters the stages share.

A dead-letter record is the refused record's original bytes; why and where from travel in headers:
``tm-reason``, ``tm-field`` and ``tm-source`` (input topic:partition:offset).
"""

from __future__ import annotations

from collections import Counter

from app.topics import dead_letter
from tastemaker.delivery import HEADER, SourcePosition

#: Outcomes on this worker since it started: "accepted", "dead_letter", "dead_letter:<reason>",
#: "duplicate", "counted" (``GET /stats/ingest``).
OUTCOMES: Counter[str] = Counter()


async def send_to_dead_letter(
    value: bytes | None, key: bytes | None, reason: str, field: str | None, source: SourcePosition
):
    """Sends (buffers) the dead letter; returns the future of Kafka's acknowledgement."""
    acknowledged = await dead_letter.send(
        key=key,
        value=value or b"",
        headers={"tm-reason": reason.encode(), "tm-field": (field or "").encode(), HEADER: source.encode()},
    )
    OUTCOMES["dead_letter"] += 1
    OUTCOMES[f"dead_letter:{reason.split(' (', 1)[0].split(':', 1)[0]}"] += 1
    return acknowledged
