"""app/web/kafka_writes.py ``write_visible``: a view's write to Kafka, then the wait until this worker's own copy
shows it (items, rules). None once both happened; 503 + Retry-After when Kafka does not acknowledge (nothing
waited for); 504 when the change does not show within the bound, which starts after the acknowledgement.
No Kafka: the send and the view are stand-ins."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

import app  # noqa: F401  (first, as the worker imports it: app/__init__ declares the stages in order)
from app.web import kafka_writes
from app.web.kafka_writes import RETRY_AFTER, VISIBLE_WITHIN, write_visible


class View:
    """What ``json_error`` and the views call: ``web.json(body, status=, headers=)``."""

    def json(self, body, status: int = 200, headers=None):
        return SimpleNamespace(body=body, status=status, headers=headers)


async def acknowledged(delay: float = 0.0):
    """What ``topic.send`` gives: a future Kafka's acknowledgement completes (here, done after ``delay``)."""
    await asyncio.sleep(delay)
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class Shows:
    """``visible()``: false for the first ``after`` calls, then true."""

    def __init__(self, after: int) -> None:
        self.after, self.calls = after, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls > self.after


def test_the_bound_is_ten_seconds():
    assert VISIBLE_WITHIN == 10.0


async def test_a_write_already_visible_answers_none_after_one_look():
    visible = Shows(after=0)
    assert await write_visible(View(), acknowledged(), visible, poll=0.01) is None
    assert visible.calls == 1


async def test_a_write_that_shows_after_a_few_polls_answers_none():
    visible = Shows(after=3)
    assert await write_visible(View(), acknowledged(), visible, poll=0.001) is None
    assert visible.calls == 4


async def test_a_write_that_never_shows_is_504_once_the_bound_passed():
    visible = Shows(after=10**9)
    started = asyncio.get_running_loop().time()
    late = await write_visible(View(), acknowledged(), visible, poll=0.01, within=0.1)
    assert asyncio.get_running_loop().time() - started >= 0.1
    assert late.status == 504
    assert late.body == {"error": {"status": 504, "field": None, "reason": "written, but not yet visible on this worker"}}
    assert late.headers is None
    assert visible.calls >= 2


async def test_the_bound_starts_once_kafka_acknowledged():
    visible = Shows(after=1)  # shows at the second look, one poll after the acknowledgement
    assert await write_visible(View(), acknowledged(delay=0.3), visible, poll=0.01, within=0.2) is None
    assert visible.calls == 2


async def test_a_refused_write_is_503_with_retry_after_and_nothing_is_awaited():
    async def refused():
        raise RuntimeError("the broker said no")

    visible = Shows(after=0)
    unavailable = await write_visible(View(), refused(), visible, poll=0.01)
    assert unavailable.status == 503
    assert unavailable.headers == {"Retry-After": RETRY_AFTER}
    assert unavailable.body["error"]["reason"] == "Kafka did not acknowledge the write; retry later"
    assert visible.calls == 0


async def test_a_write_kafka_does_not_acknowledge_in_time_is_503(monkeypatch):
    monkeypatch.setattr(kafka_writes, "settings", SimpleNamespace(produce_timeout=0.05))
    never = asyncio.get_running_loop().create_future()

    async def pending():
        return never

    visible = Shows(after=0)
    unavailable = await write_visible(View(), pending(), visible, poll=0.01)
    assert unavailable.status == 503
    assert visible.calls == 0


async def test_a_list_of_acknowledgements_is_waited_for_whole():
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()

    async def bundles():
        return [first, second]

    visible = Shows(after=0)
    writing = asyncio.ensure_future(write_visible(View(), bundles(), visible, poll=0.01))
    first.set_result(None)
    await asyncio.sleep(0.02)
    assert not writing.done() and visible.calls == 0
    second.set_result(None)
    assert await writing is None
    assert visible.calls == 1


@pytest.mark.parametrize("poll", [0.02, 0.05])
async def test_polls_are_poll_seconds_apart(poll):
    visible = Shows(after=2)
    started = asyncio.get_running_loop().time()
    assert await write_visible(View(), acknowledged(), visible, poll=poll) is None
    assert asyncio.get_running_loop().time() - started >= 2 * poll
