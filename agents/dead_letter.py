"""Where every stage sends what it refuses, and the outcome counters the stages share.

A dead-letter record is the refused record's bytes; why and where from travel in headers: ``tm-reason``,
``tm-field`` and ``tm-source`` (input topic:partition:offset). Two changes are made to the bytes first, each
announced by a header, so a dead letter is then no longer the record byte for byte:

- ``tm-scrubbed: ip``: client addresses anonymized (tastemaker/ingest/privacy.scrub_ips: ``context.ip`` and
  every ``ip`` field of a JSON record, or every IPv4/IPv6 address in bytes that are not JSON), as the
  collector anonymizes them before anything is stored: the dead-letter topic carries no raw IP either.
- ``tm-truncated: <original length>``: only the first ``MAX_VALUE_BYTES`` kept (a 2 MB record is refused
  for its size; its first 64 KB say what it was, and a dead letter must fit Kafka's 1 MB record limit,
  or the refusal itself would fail and stop the stage). Keys are cut to ``MAX_KEY_BYTES`` alike.

The counters live in app/stage_reports.py (``OUTCOMES`` here is the same object).
"""

from __future__ import annotations

from app.stage_reports import OUTCOMES
from app.topics import dead_letter
from tastemaker.delivery import HEADER, SourcePosition
from tastemaker.ingest.privacy import scrub_ips

__all__ = ["OUTCOMES", "send_to_dead_letter", "dead_letter_record"]

MAX_VALUE_BYTES = 64 * 1024  # twice the 32 KB message limit: every refused message that was not too large is whole
MAX_KEY_BYTES = 1024
MAX_REASON_CHARS = 300


def dead_letter_record(
    value: bytes | None, key: bytes | None, reason: str, field: str | None, source: SourcePosition
) -> tuple[bytes | None, bytes, dict[str, bytes]]:
    """(key, value, headers) of the dead letter for a refused record: scrubbed, bounded."""
    raw = value or b""
    headers = {"tm-reason": reason[:MAX_REASON_CHARS].encode(errors="replace"),
               "tm-field": (field or "")[:MAX_REASON_CHARS].encode(errors="replace"),
               HEADER: source.encode()}
    scrubbed = scrub_ips(raw)
    if scrubbed is not raw:
        headers["tm-scrubbed"] = b"ip"
    if len(scrubbed) > MAX_VALUE_BYTES:
        headers["tm-truncated"] = str(len(scrubbed)).encode()
        scrubbed = scrubbed[:MAX_VALUE_BYTES]
    if key is not None:
        key = scrub_ips(key)[:MAX_KEY_BYTES]
    return key, scrubbed, headers


async def send_to_dead_letter(
    value: bytes | None, key: bytes | None, reason: str, field: str | None, source: SourcePosition
):
    """Sends (buffers) the dead letter; returns the future of Kafka's acknowledgement."""
    key, value, headers = dead_letter_record(value, key, reason, field, source)
    acknowledged = await dead_letter.send(key=key, value=value, headers=headers)
    OUTCOMES["dead_letter"] += 1
    OUTCOMES[f"dead_letter:{reason.split(' (', 1)[0].split(':', 1)[0]}"] += 1
    return acknowledged
