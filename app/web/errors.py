"""One JSON shape for every 4xx/5xx answer: which field was wrong and why."""

from __future__ import annotations


def json_error(web, status: int, field: str | None, reason: str, headers: dict[str, str] | None = None):
    return web.json({"error": {"status": status, "field": field, "reason": reason}}, status=status, headers=headers)
