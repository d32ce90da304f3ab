"""The worker's HTTP server: Faust's aiohttp driver, with a deadline for every request head.

A slow client (slowloris) holds a connection for as long as it keeps sending a byte now and then. aiohttp
bounds neither the time to receive a request's head nor, by default, an idle connection (3630 s). Here:

    connection opens ───┐
    idle, 1st byte ─────┴─▶ head deadline (header_timeout) ─▶ head complete: deadline off, the view runs
                                      │ not complete in time                    │ reads its body with
                                      ▼                                         ▼ app/web/bodies.py's
                  408 (JSON), connection closed                        deadline (body_timeout: 408)
                  (closed silently if nothing arrived)
    after a response: idle keep-alive ─▶ idle_timeout (aiohttp's keepalive_timeout) ─▶ closed

A connection opened and never used is closed at the head deadline too. The head deadline is armed when a
connection opens and when the first byte of a new request arrives on an idle keep-alive connection (as Go's
``ReadHeaderTimeout``); it does not cover a request pipelined behind another while that one is served,
which the idle timeout still bounds. Bodies are bounded where they are read, for every route
(app/web/bodies.py ``read_body``: 408, then the connection is closed at once, ``close_without_lingering``);
a route that does not read its body lets aiohttp discard the rest for at most its lingering time (10 s)
before the connection is closed.

How: ``TastemakerApp._new_web`` (app/main.py) builds ``DeadlineWeb`` instead of Faust's ``Web``; its runner
makes a ``Server`` whose protocol is ``DeadlineRequestHandler``, aiohttp's own handler plus the timer. It
relies on aiohttp internals (``_waiter``, ``_request_count``, ``_lingering_time``): written for aiohttp
3.14.5, refused on another version until re-checked.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import AppRunner
from aiohttp.web_server import Server
from faust.web.drivers.aiohttp import Web

_WRITTEN_FOR = "3.14.5"


def _check_version() -> None:
    if aiohttp.__version__ != _WRITTEN_FOR:
        raise RuntimeError(
            f"app/web_server.py: re-check the request-head deadline before upgrading aiohttp "
            f"{aiohttp.__version__} (written for {_WRITTEN_FOR})"
        )


def _timeout_response(reason: str) -> bytes:
    body = orjson.dumps({"error": {"status": 408, "field": None, "reason": reason}})
    head = (
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class DeadlineRequestHandler(RequestHandler):
    """aiohttp's request handler (one per connection) with a deadline for each request head."""

    def __init__(self, manager: Server, *, head_timeout: float, **kwargs) -> None:
        super().__init__(manager, **kwargs)
        self._head_timeout = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None
        self._heads_at_arming = 0
        self._head_bytes = 0  # received since the deadline was armed

    def _arm_head_deadline(self) -> None:
        self._heads_at_arming = self._request_count
        self._head_bytes = 0
        self._head_timer = self._loop.call_later(self._head_timeout, self._head_deadline_passed)

    def _disarm_head_deadline(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_deadline_passed(self) -> None:
        self._head_timer = None
        if self._request_count != self._heads_at_arming or self.transport is None:
            return  # the head did arrive (or the connection is gone)
        if self._head_bytes:  # a partial head: say why. A connection that sent nothing is closed silently,
            # as an idle one: a client may be sending its request just now, and takes a close as "retry".
            self.transport.write(_timeout_response(f"request head not received within {self._head_timeout:g} s"))
        self.force_close()  # closes the transport once the answer is flushed

    def close_without_lingering(self) -> None:
        """Close the connection once the current response is sent, without aiohttp's lingering read of the
        rest of the body (up to 10 s): for a body that missed its deadline, whose sender is not worth it."""
        self._lingering_time = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        # Idle: the handler waits for the next request, none is in progress; these bytes start a head.
        idle = self._head_timer is None and self._waiter is not None and not self._waiter.done()
        heads = self._request_count
        self._head_bytes += len(data)
        super().data_received(data)
        if self._request_count != heads:
            self._disarm_head_deadline()
        elif idle and data and not self._force_close:
            self._arm_head_deadline()
            self._head_bytes = len(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)


class DeadlineServer(Server):
    def __init__(self, *args, head_timeout: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout

    def __call__(self) -> RequestHandler:
        return DeadlineRequestHandler(self, loop=self._loop, head_timeout=self._head_timeout, **self._kwargs)


class DeadlineRunner(AppRunner):
    """``AppRunner`` whose server speaks through ``DeadlineRequestHandler``."""

    def __init__(self, app, *, head_timeout: float, **kwargs) -> None:
        super().__init__(app, **kwargs)
        self._head_timeout = head_timeout

    async def _make_server(self) -> Server:
        plain = await super()._make_server()
        return DeadlineServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            head_timeout=self._head_timeout,
            **plain._kwargs,
        )


class DeadlineWeb(Web):
    """Faust's aiohttp web driver, serving through ``DeadlineRunner``."""

    def __init__(self, app, *, head_timeout: float, idle_timeout: float, **kwargs) -> None:
        _check_version()
        super().__init__(app, **kwargs)
        # Faust's own runner is ``AppRunner(self.web_app, access_log=None)``: the same, plus the deadlines.
        self._runner = DeadlineRunner(
            self.web_app, access_log=None, head_timeout=head_timeout, keepalive_timeout=idle_timeout
        )
