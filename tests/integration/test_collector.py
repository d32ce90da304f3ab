"""The Segment-compatible collector on a real worker: Segment's own library, and every error by raw HTTP."""

from __future__ import annotations

import asyncio
import base64
import gzip

import aiohttp
import orjson
import pytest
from segment.analytics import Client

from tests.support.kafka import consume_all, produce
from tests.support.worker import Deployment

pytestmark = pytest.mark.integration

WRITE_KEY = "test-write-key"


@pytest.fixture(scope="module")
async def collector(broker, tmp_path_factory):
    deployment = Deployment(
        broker,
        tmp_path_factory.mktemp("collector"),
        TASTEMAKER_WRITE_KEYS=f"{WRITE_KEY}=web,other-key=app",
        TASTEMAKER_CORS_ORIGINS="http://shop.example",
    )
    worker = deployment.worker("collector").start()
    await worker.wait_ready()
    yield deployment, worker
    deployment.shutdown()


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def post(worker, path, body, headers=None):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{worker.url}{path}",
            data=data,
            headers={"Content-Type": "application/json", "Authorization": basic(WRITE_KEY), **(headers or {})},
        ) as response:
            return response.status, await response.json(content_type=None), response.headers


async def records(deployment, topic):
    return [orjson.loads(value) for _key, value in await consume_all(deployment.broker, deployment.topic(topic), 2)]


async def test_segment_python_library_sends_unchanged(collector):
    deployment, worker = collector
    client = Client(WRITE_KEY, host=worker.url, gzip=True, sync_mode=True, max_retries=1)
    client.track(user_id="lib-user", event="Product Viewed", properties={"product_id": "p-1", "price": 12.5})
    client.track(user_id="lib-user", event="Order Completed", properties={"order_id": "o-1", "total": 30})
    client.page(anonymous_id="lib-anon", name="Home", properties={"path": "/"})
    client.identify(user_id="lib-user", traits={"plan": "pro"}, anonymous_id="lib-anon")
    client.alias(previous_id="lib-anon", user_id="lib-user")
    client.flush()

    clicks = [r for r in await records(deployment, "clickstream") if r.get("source") == "web"]
    purchases = await records(deployment, "purchase_events")
    identities = await records(deployment, "identities")
    assert {(r["type"], r.get("event")) for r in clicks} >= {("track", "Product Viewed"), ("page", None)}
    assert [r["event"] for r in purchases if r["userId"] == "lib-user"] == ["Order Completed"]
    assert {r["type"] for r in identities if r["userId"] == "lib-user"} == {"identify", "alias"}
    viewed = next(r for r in clicks if r.get("event") == "Product Viewed")
    assert viewed["properties"] == {"product_id": "p-1", "price": 12.5}
    assert viewed["messageId"] and viewed["receivedAt"] and viewed["timestamp"]
    assert viewed["context"]["library"]["name"] == "analytics-python"
    assert "writeKey" not in viewed


@pytest.mark.parametrize(
    "path, body, headers, status, field",
    [
        ("/v1/track", {"userId": "u", "event": "E"}, {"Authorization": basic("nope")}, 401, "writeKey"),
        ("/v1/track", {"userId": "u", "event": "E"}, {"Authorization": ""}, 401, "writeKey"),
        ("/v1/track", {"userId": "u", "event": "E"}, {"Content-Type": "text/xml"}, 415, "Content-Type"),
        ("/v1/track", b"{not json", None, 400, None),
        ("/v1/track", {"userId": "u"}, None, 400, "event"),
        ("/v1/page", {"name": "Home"}, None, 400, "userId"),
        ("/v1/alias", {"userId": "u"}, None, 400, "previousId"),
        ("/v1/group", {"userId": "u"}, None, 400, "groupId"),
        ("/v1/track", {"userId": "u", "event": "E", "timestamp": "soon"}, None, 400, "timestamp"),
        ("/v1/track", {"userId": "u", "event": "E", "properties": {"x": "y" * 33_000}}, None, 413, None),
        ("/v1/batch", {"batch": [{"type": "page", "userId": "u", "properties": {"x": "y" * 1000}}] * 520}, None, 413, None),
        ("/v1/batch", {"batch": []}, None, 400, "batch"),
        ("/v1/batch", {"batch": [{"type": "track", "userId": "u"}]}, None, 400, "batch"),
    ],
    ids=[
        "unknown-key", "no-key", "wrong-content-type", "not-json", "track-without-event", "page-without-user",
        "alias-without-previousId", "group-without-groupId", "bad-timestamp", "event-over-32KB",
        "batch-over-500KB", "empty-batch", "batch-all-invalid",
    ],
)
async def test_every_error_has_its_status_and_names_the_field(collector, path, body, headers, status, field):
    _deployment, worker = collector
    got_status, answer, _ = await post(worker, path, body, headers)
    assert got_status == status
    assert answer["error"]["status"] == status
    assert answer["error"]["field"] == field
    assert answer["error"]["reason"]


async def test_a_batch_keeps_its_valid_messages_and_lists_the_rejected(collector):
    deployment, worker = collector
    batch = [
        {"type": "page", "anonymousId": "batch-anon", "messageId": "b-0"},
        {"type": "track", "userId": "batch-user"},
        {"type": "track", "userId": "batch-user", "event": "Product Viewed", "messageId": "b-2"},
        "not an object",
    ]
    status, answer, _ = await post(worker, "/v1/batch", {"batch": batch, "context": {"locale": "fr-FR"}})
    assert status == 200
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, "event"), (3, None)]
    stored = {r["messageId"]: r for r in await records(deployment, "clickstream")}
    assert stored["b-0"]["context"]["locale"] == "fr-FR"  # the batch envelope's context applies
    assert "b-2" in stored


async def test_write_key_in_body_gzip_and_beacon_bodies(collector):
    deployment, worker = collector
    body = orjson.dumps({"writeKey": "other-key", "batch": [{"type": "page", "userId": "gz", "messageId": "gz-1"}]})
    status, _, _ = await post(worker, "/v1/batch", gzip.compress(body), {"Authorization": "", "Content-Encoding": "gzip"})
    assert status == 200
    # navigator.sendBeacon(url, JSON.stringify(...)) posts text/plain.
    beacon = orjson.dumps({"writeKey": WRITE_KEY, "userId": "bk", "event": "Product Clicked", "messageId": "bk-1"})
    status, _, _ = await post(worker, "/v1/track", beacon, {"Authorization": "", "Content-Type": "text/plain;charset=UTF-8"})
    assert status == 200
    stored = {r["messageId"]: r for r in await records(deployment, "clickstream")}
    assert stored["gz-1"]["source"] == "app" and stored["bk-1"]["source"] == "web"


async def test_cors_allows_configured_origins_only(collector):
    _deployment, worker = collector
    async with aiohttp.ClientSession() as http:
        for origin, allowed in [("http://shop.example", True), ("http://evil.example", False)]:
            async with http.options(
                f"{worker.url}/v1/batch",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "content-type"},
            ) as response:
                assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed


async def test_the_same_messages_sent_twice_are_counted_once(collector):
    deployment, worker = collector
    batch = [
        {"type": "track", "userId": "twice", "event": "Product Viewed", "messageId": f"twice-{n}"} for n in range(3)
    ]
    for _ in range(2):  # a client retrying a batch whose answer it did not get
        status, answer, _ = await post(worker, "/v1/batch", {"batch": batch})
        assert (status, answer["accepted"]) == (200, 3)
    # A direct producer resending one of them too.
    await produce(deployment.broker, deployment.topic("clickstream"), [{**batch[0], "source": "web"}])
    await produce(deployment.broker, deployment.topic("clickstream"), [{**batch[0], "messageId": "twice-new"}])

    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        status, body = await worker.get_json("/profiles/twice")
        if status == 200 and body["profile"]["events"] >= 4:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)
    status, body = await worker.get_json("/profiles/twice")
    assert body["profile"]["events"] == 4  # 3 distinct messages from source "web", 1 without a source
    _, stats = await worker.get_json("/stats/ingest")
    assert stats["outcomes"]["duplicate"] >= 4
