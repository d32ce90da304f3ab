"""Request bodies read to their end, or one byte past a limit (so the caller can refuse what is too big),
within the body deadline: every route reads its body here, so a client that trickles a body (slowloris)
gets 408 after ``TASTEMAKER_BODY_TIMEOUT`` seconds whichever route it calls. (The request head has its own
deadline: app/web_server.py.)"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from app.main import settings


class BadBody(web.HTTPBadRequest):
    """400 with the JSON error shape, for a body that does not decode as its ``Content-Encoding`` says (aiohttp
    inflates gzip and deflate while the body is read). Passes the views like ``BodyTimeout``."""

    def __init__(self, encoding: str | None) -> None:
        self.explanation = f"the body is not valid {(encoding or 'as sent')[:20]} (Content-Encoding)"
        error = {"status": 400, "field": "Content-Encoding", "reason": self.explanation}
        super().__init__(text=orjson.dumps({"error": error}).decode(), content_type="application/json")


class BodyTimeout(web.HTTPRequestTimeout):
    """408 with the JSON error shape. An aiohttp HTTP exception: it passes Faust's view dispatch and aiohttp
    answers it, so no route needs to catch it; the connection is closed right after the answer."""

    def __init__(self, timeout: float) -> None:
        error = {"status": 408, "field": None, "reason": f"request body not received within {timeout:g} s"}
        super().__init__(text=orjson.dumps({"error": error}).decode(), content_type="application/json")
        self.force_close()


async def read_body(request, limit: int, timeout: float | None = None) -> bytes:
    """``read(n)`` alone returns whatever has arrived so far, which for a body in several TCP segments is
    only its beginning: read until the end or past ``limit``, at most ``timeout`` seconds in all
    (default ``settings.body_timeout``), else raise ``BodyTimeout``; ``BadBody`` when it does not decode."""
    timeout = settings.body_timeout if timeout is None else timeout
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            size = 0
            while size <= limit:
                chunk = await request.content.read(limit + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except RequestPayloadError:  # was a 500: a "gzip" body that is not gzip
        _close_without_lingering(request)  # the rest cannot be decoded either
        raise BadBody(request.headers.get("Content-Encoding")) from None
    except TimeoutError:
        _close_without_lingering(request)
        raise BodyTimeout(timeout) from None
    return b"".join(chunks)


def _close_without_lingering(request) -> None:
    close_now = getattr(request.protocol, "close_without_lingering", None)  # app/web_server.py
    if close_now is not None:
        close_now()
