"""Request bodies read to their end, or one byte past a limit (so the caller can refuse what is too big)."""

from __future__ import annotations


async def read_body(request, limit: int) -> bytes:
    """``read(n)`` alone returns whatever has arrived so far, which for a body in several TCP segments is
    only its beginning: read until the end or past ``limit``."""
    chunks, size = [], 0
    while size <= limit:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
