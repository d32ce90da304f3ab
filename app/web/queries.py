"""Query-string values shared by the views, refused with the field named (``BadQuery`` → a 400 answer)."""

from __future__ import annotations


class BadQuery(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def limit_of(query, default: int, maximum: int) -> int:
    """``?limit=``: a whole number from 1 to ``maximum``."""
    try:
        limit = int(query.get("limit", str(default)))
        if not 1 <= limit <= maximum:
            raise ValueError
    except ValueError:
        raise BadQuery("limit", f"limit must be a whole number from 1 to {maximum}") from None
    return limit
