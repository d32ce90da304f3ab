"""Identity across devices and bots, through the collector (Segment's own library) and real workers."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp
import pytest
from segment.analytics import Client

from tests.support.worker import Deployment

pytestmark = pytest.mark.integration

WRITE_KEY = "identity-test-key"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")


def deployment_with_collector(broker, tmp_path, **env) -> Deployment:
    return Deployment(broker, tmp_path, TASTEMAKER_WRITE_KEYS=f"{WRITE_KEY}=web", **env)


def segment_client(worker) -> Client:
    return Client(WRITE_KEY, host=worker.url, sync_mode=True, max_retries=1)


READ_TIME_FIELDS = ("intent", "intent_why", "affinities")  # computed at the time of the read


def learnt(body: dict) -> dict:
    """What the events taught: the profile without the values that depend on when it is read."""
    return {k: v for k, v in body["profile"].items() if k not in READ_TIME_FIELDS}


async def wait_profile(worker, raw_id: str, check, timeout: float = 45.0) -> dict:
    """Poll ``GET /profiles/{raw_id}`` until ``check(body)`` holds; the last answer otherwise."""
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        status, body = await worker.get_json(f"/profiles/{raw_id}")
        if status == 200 and check(body):
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"{raw_id}: profile never matched, last answer {body}")


async def test_two_anonymous_devices_then_a_login_on_each_give_one_profile_that_survives_restart(broker, tmp_path):
    deployment = deployment_with_collector(broker, tmp_path)
    try:
        worker = deployment.worker("first").start()
        await worker.wait_ready()
        run = uuid.uuid4().hex[:8]
        phone, laptop, user = f"phone-{run}", f"laptop-{run}", f"ann-{run}"
        client = segment_client(worker)
        for n in range(3):
            client.track(anonymous_id=phone, event="Product Viewed", properties={"product_id": f"p{n}"},
                         context={"userAgent": IPHONE})
        for n in range(2):
            client.page(anonymous_id=laptop, name="Home", properties={"path": f"/l/{n}"}, context={"userAgent": CHROME})
        # Both devices' histories are in their own anonymous profiles before anyone logs in.
        await wait_profile(worker, phone, lambda b: b["profile"]["events"] == 3)
        await wait_profile(worker, laptop, lambda b: b["profile"]["events"] == 2)

        client.identify(user_id=user, anonymous_id=phone, traits={"plan": "pro"})
        client.identify(user_id=user, anonymous_id=laptop)
        client.track(anonymous_id=laptop, event="Product Added", properties={"product_id": "p9"})  # still logged out

        def whole(body):
            return body["profile"]["events"] == 8 and sorted(body["ids"]) == sorted([user, phone, laptop])

        merged = await wait_profile(worker, user, whole)
        assert merged["person"] == user
        assert merged["profile"]["counts"] == {"Product Viewed": 3, "page": 2, "identify": 2, "Product Added": 1}
        assert merged["profile"]["devices"] == {"mobile": 3, "desktop": 2}
        for raw_id in (phone, laptop):  # asked by any id, the same person answers
            body = await wait_profile(worker, raw_id, whole)
            assert body["person"] == user and learnt(body) == learnt(merged)
        await asyncio.sleep(2)  # nothing arrives twice later
        assert learnt(await wait_profile(worker, user, whole)) == learnt(merged)

        assert worker.stop() == 0  # links and merged profile are persisted (RocksDB + changelogs)
        second = deployment.worker("second", data_dir=worker.data_dir).start()
        await second.wait_ready()
        for raw_id in (phone, laptop, user):
            body = await wait_profile(second, raw_id, whole)
            assert body["person"] == user and learnt(body) == learnt(merged)
        status, stats = await second.get_json("/stats/ingest")
        assert status == 200
    finally:
        deployment.shutdown()


async def test_bots_by_user_agent_and_by_rate_are_counted_and_kept_out_of_profiles(broker, tmp_path):
    deployment = deployment_with_collector(broker, tmp_path, TASTEMAKER_BOT_EVENTS_PER_MINUTE="20")
    try:
        worker = deployment.worker("w").start()
        await worker.wait_ready()
        run = uuid.uuid4().hex[:8]
        client = segment_client(worker)
        human, crawler, script = f"human-{run}", f"crawler-{run}", f"script-{run}"
        client.page(anonymous_id=crawler, name="Home",
                    context={"userAgent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"})
        if time.time() % 60 > 50:  # the rate is counted per minute: keep the 30 events in one
            await asyncio.sleep(61 - time.time() % 60)
        burst = Client(WRITE_KEY, host=worker.url, max_retries=1, upload_size=100)  # batches, from a thread
        for n in range(30):
            burst.track(anonymous_id=script, event="Product Viewed", properties={"product_id": f"p{n}"},
                        context={"userAgent": CHROME})
        burst.flush()
        burst.shutdown()
        client.page(anonymous_id=human, name="Home", context={"userAgent": CHROME})

        await wait_profile(worker, human, lambda b: b["profile"]["events"] == 1)
        await wait_profile(worker, script, lambda b: b["profile"]["events"] == 20)
        status, stats = await worker.get_json("/stats/ingest")
        outcomes = stats["outcomes"]
        assert outcomes["bot:user_agent"] == 1 and outcomes["bot:rate"] == 10
        status, body = await worker.get_json(f"/profiles/{crawler}")
        assert status == 404  # the crawler's page view reached no profile
    finally:
        deployment.shutdown()


async def test_a_collector_only_worker_feeds_a_stream_only_worker(broker, tmp_path):
    # TASTEMAKER_ROLES splits collection from processing: the collector answers HTTP and produces, the
    # stream worker owns every partition and the profiles.
    deployment = deployment_with_collector(broker, tmp_path)
    try:
        collector = deployment.worker("collector")
        collector.env["TASTEMAKER_ROLES"] = "collector"
        stream = deployment.worker("stream")
        stream.env["TASTEMAKER_ROLES"] = "stream"
        collector.start()
        stream.start()
        await asyncio.gather(collector.wait_ready(), stream.wait_ready())
        visitor = f"split-{uuid.uuid4().hex[:8]}"
        client = segment_client(collector)
        for n in range(3):
            client.track(anonymous_id=visitor, event="Product Viewed", properties={"product_id": f"p{n}"})
        body = await wait_profile(stream, visitor, lambda b: b["profile"]["events"] == 3)
        assert body["profile"]["counts"] == {"Product Viewed": 3}
        # Each serves only its role.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{collector.url}/profiles/{visitor}") as answer:
                assert answer.status == 404
            async with http.get(f"{stream.url}/tracker.js") as answer:
                assert answer.status == 404
    finally:
        deployment.shutdown()
