"""Abuse limits on a real worker: rate limits per write key and per client address (429 + Retry-After),
X-Forwarded-For believed only from a trusted proxy, batch size and amplification (413 naming ``batch``),
and deadlines for slow clients (request heads, bodies, idle connections)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time

import aiohttp
import orjson
import pytest

from tests.support.kafka import consume_all
from tests.support.worker import ADMIN_TOKEN, Deployment

pytestmark = pytest.mark.integration

KEYS = ("key-a", "key-b", "key-c", "key-x", "key-amp1", "key-amp2", "key-amp3", "key-many")
PROXY = "127.0.0.2"  # the trusted proxy: this test's requests come from it when sent "via the proxy"
HEADER_TIMEOUT = BODY_TIMEOUT = 2.0
# Slow refills (one token every 5 s), so that back-to-back requests meet an empty bucket on a busy machine.
RATE, KEY_BURST, CLIENT_BURST = 0.2, 30, 10
_addresses = (f"203.0.113.{n}" for n in itertools.count(1))


def fresh_client() -> str:
    """A client address no other test used: a full bucket of its own."""
    return next(_addresses)


@pytest.fixture(scope="module")
async def limited(broker, tmp_path_factory):
    deployment = Deployment(
        broker,
        tmp_path_factory.mktemp("limits"),
        TASTEMAKER_WRITE_KEYS=",".join(f"{key}={key[4:]}" for key in KEYS),
        TASTEMAKER_RATE_LIMIT_PER_KEY=f"{RATE},{KEY_BURST}",
        TASTEMAKER_RATE_LIMIT_PER_CLIENT=f"{RATE},{CLIENT_BURST}",
        TASTEMAKER_TRUSTED_PROXIES=PROXY,
        TASTEMAKER_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        TASTEMAKER_BODY_TIMEOUT=str(BODY_TIMEOUT),
    )
    worker = deployment.worker("limits").start()
    await worker.wait_ready()
    yield deployment, worker
    deployment.shutdown()


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def post(worker, path: str, body, key: str, forwarded_for: str | None = None, via_proxy: bool = False):
    """(status, JSON, headers) of a collector call, sent from 127.0.0.1 or from the trusted proxy's address."""
    connector = aiohttp.TCPConnector(local_addr=(PROXY, 0)) if via_proxy else None
    headers = {"Content-Type": "application/json", "Authorization": basic(key)}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    async with aiohttp.ClientSession(connector=connector) as http:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        async with http.post(f"{worker.url}{path}", data=data, headers=headers) as response:
            return response.status, await response.json(content_type=None), response.headers


def pages(n: int, tag: str, **fields) -> list[dict]:
    return [{"type": "page", "userId": f"limits-{tag}", "messageId": f"{tag}-{i}", **fields} for i in range(n)]


async def stored(deployment) -> dict[str, dict]:
    records = await consume_all(deployment.broker, deployment.topic("clickstream"), 2)
    return {r["messageId"]: r for r in (orjson.loads(value) for _, value in records)}


def assert_too_many(status, answer, headers, field):
    assert status == 429
    assert answer["error"]["status"] == 429 and answer["error"]["field"] == field and answer["error"]["reason"]
    assert headers["Retry-After"].isdigit() and int(headers["Retry-After"]) >= 1


async def test_a_write_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(limited):
    _, worker = limited
    # A batch costs one token per message: the key's whole burst in one request (each from a new client).
    status, answer, _ = await post(worker, "/v1/batch", {"batch": pages(KEY_BURST, "key-a")}, "key-a",
                                   fresh_client(), via_proxy=True)
    assert (status, answer["accepted"]) == (200, KEY_BURST)
    status, answer, headers = await post(worker, "/v1/track", {"userId": "u", "event": "E"}, "key-a",
                                         fresh_client(), via_proxy=True)
    assert_too_many(status, answer, headers, "writeKey")
    status, _, _ = await post(worker, "/v1/track", {"userId": "u", "event": "E"}, "key-b", fresh_client(), via_proxy=True)
    assert status == 200  # another key has a bucket of its own
    await asyncio.sleep(int(headers["Retry-After"]))
    status, _, _ = await post(worker, "/v1/track", {"userId": "u", "event": "E"}, "key-a", fresh_client(), via_proxy=True)
    assert status == 200  # Retry-After told the truth


async def test_a_client_address_over_its_rate_gets_429_and_the_proxy_forwarded_address_counts(limited):
    deployment, worker = limited
    client = fresh_client()
    status, _, _ = await post(worker, "/v1/batch", {"batch": pages(CLIENT_BURST, "client")}, "key-c", client,
                              via_proxy=True)
    assert status == 200
    status, answer, headers = await post(worker, "/v1/track", {"userId": "u", "event": "E"}, "key-c", client,
                                         via_proxy=True)
    assert_too_many(status, answer, headers, None)
    # The same proxy forwarding another client: that client's own bucket.
    status, _, _ = await post(worker, "/v1/track", {"userId": "u", "event": "E"}, "key-c", fresh_client(), via_proxy=True)
    assert status == 200
    # A client in debt is refused before its body is even read, whatever the body.
    status, answer, _ = await post(worker, "/v1/track", b"not json", "key-c", client, via_proxy=True)
    assert status == 429
    # The stored IP is the forwarded client's (anonymized), not the proxy's.
    assert (await stored(deployment))["client-0"]["context"]["ip"] == "203.0.113.0"


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(limited):
    deployment, worker = limited
    # From 127.0.0.1, not a trusted proxy: a new made-up address in every request does not buy new buckets.
    status, _, _ = await post(worker, "/v1/batch", {"batch": pages(CLIENT_BURST, "xff")}, "key-x", "198.51.100.1")
    assert status == 200
    assert_too_many(*await post(worker, "/v1/track", {"userId": "u", "event": "E"}, "key-x", "198.51.100.2"), None)
    assert (await stored(deployment))["xff-0"]["context"]["ip"] == "127.0.0.0"  # the socket peer's


async def test_a_batch_whose_context_would_be_copied_beyond_the_stored_limit_is_413(limited):
    deployment, worker = limited
    # 20 KB of context, copied into 100 messages: 2 MB to store from a 23 KB request.
    amplified = {"context": {"page": {"title": "x" * 20_000}}, "batch": pages(100, "amp1")}
    status, answer, _ = await post(worker, "/v1/batch", amplified, "key-amp1", fresh_client(), via_proxy=True)
    assert status == 413 and answer["error"]["field"] == "batch" and "context" in answer["error"]["reason"]
    # Under the envelope check, but the stored records (context + own properties + enrichment) are not.
    mixed = {"context": {"page": {"title": "x" * 3_000}},
             "batch": pages(400, "amp2", properties={"note": "y" * 1_000})}
    status, answer, _ = await post(worker, "/v1/batch", mixed, "key-amp2", fresh_client(), via_proxy=True)
    assert status == 413 and answer["error"]["field"] == "batch"
    # A modest shared context is copied into each message as Segment does.
    modest = {"context": {"locale": "de-DE", "page": {"title": "z" * 1_000}}, "batch": pages(100, "amp3")}
    status, answer, _ = await post(worker, "/v1/batch", modest, "key-amp3", fresh_client(), via_proxy=True)
    assert (status, answer["accepted"]) == (200, 100)
    records = await stored(deployment)
    assert not any(message_id.startswith(("amp1-", "amp2-")) for message_id in records)  # all or nothing
    assert records["amp3-99"]["context"]["locale"] == "de-DE"


async def test_a_batch_of_more_than_2500_messages_is_413(limited):
    deployment, worker = limited
    tiny = [{"type": "page", "anonymousId": "a", "messageId": f"many-{i}"} for i in range(2501)]
    status, answer, _ = await post(worker, "/v1/batch", {"batch": tiny}, "key-many", fresh_client(), via_proxy=True)
    assert status == 413 and answer["error"]["field"] == "batch" and "2500" in answer["error"]["reason"]
    status, answer, _ = await post(worker, "/v1/batch", {"batch": tiny[:2500]}, "key-many", fresh_client(), via_proxy=True)
    assert (status, answer["accepted"]) == (200, 2500)  # a batch larger than the burst passes a full bucket
    assert "many-2500" not in await stored(deployment)


async def slowly(port: int, first: bytes, then: list[bytes], every: float) -> tuple[bytes, float, int]:
    """Send ``first``, then each of ``then`` every ``every`` seconds until the server closes; returns
    (what the server answered, seconds until it closed, how many of ``then`` were sent). From 127.0.0.3:
    a client address whose rate-limit bucket no other test drains."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.3", 0))
    started = time.monotonic()

    async def read_all() -> bytes:
        data = b""
        try:
            while chunk := await reader.read(65536):
                data += chunk
        except ConnectionError:
            pass
        return data

    reading = asyncio.create_task(read_all())
    sent = 0
    try:
        writer.write(first)
        for piece in then:
            if reading.done():
                break
            writer.write(piece)
            await writer.drain()
            sent += 1
            await asyncio.sleep(every)
    except ConnectionError:
        pass
    answer = await asyncio.wait_for(reading, 30)
    writer.close()
    return answer, time.monotonic() - started, sent


def parse(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


HEAD = b"POST /v1/track HTTP/1.1\r\nHost: worker\r\nContent-Type: application/json\r\nX-Padding: " + b"p" * 60 + b"\r\n\r\n"


async def test_a_request_head_sent_byte_by_byte_is_cut_at_the_header_timeout(limited):
    _, worker = limited
    answer, closed_after, sent = await slowly(worker.port, b"", [bytes([b]) for b in HEAD], 0.1)
    assert sent < len(HEAD)  # cut before the head was complete (the whole head takes ~10 s at this pace)
    status, body = parse(answer)
    assert status == 408 and "head" in body["error"]["reason"]
    assert closed_after < HEADER_TIMEOUT + 3


async def test_an_idle_connection_and_a_slow_head_after_a_keep_alive_request_are_closed(limited):
    _, worker = limited
    answer, closed_after, _ = await slowly(worker.port, b"", [], 0)  # connects, sends nothing
    assert answer == b"" and closed_after < HEADER_TIMEOUT + 3  # closed, silently: no request was begun
    # One good request on a kept-alive connection, then the next head trickled: cut as well.
    ok = b"GET /health HTTP/1.1\r\nHost: worker\r\n\r\n"
    answer, closed_after, sent = await slowly(worker.port, ok, [bytes([b]) for b in HEAD], 0.1)
    assert answer.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in answer
    assert sent < len(HEAD)


@pytest.mark.parametrize("route", ["collector", "items"])
async def test_a_body_sent_slowly_gets_408_and_the_connection_is_closed(limited, route):
    _, worker = limited
    if route == "collector":
        head = (f"POST /v1/track HTTP/1.1\r\nHost: worker\r\nAuthorization: {basic('key-b')}\r\n"
                "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n")
    else:  # any route that reads a body has the same deadline (app/web/bodies.py)
        head = (f"PUT /items/slow HTTP/1.1\r\nHost: worker\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
                "Content-Type: application/json\r\nContent-Length: 400\r\n\r\n")
    answer, closed_after, sent = await slowly(worker.port, head.encode(), [b" "] * 400, 0.05)
    assert sent < 400  # the body takes ~20 s at this pace
    status, body = parse(answer)
    assert status == 408 and body["error"]["status"] == 408 and "body" in body["error"]["reason"]
    assert closed_after < BODY_TIMEOUT + 3
