"""The first vertical slice through real Kafka and real worker processes:
clickstream -> ingest -> events_by_id -> identity -> events_by_person -> person -> profiles -> GET /profiles/{id}."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from aiokafka.partitioner import DefaultPartitioner

from tests.support.kafka import consume_all_with_headers, produce

pytestmark = pytest.mark.integration


def page_view(user: str, n: int, anonymous: bool = False) -> dict:
    who = {"anonymousId": user} if anonymous else {"userId": user}
    return {"type": "page", "messageId": f"{user}-{n}", "properties": {"path": f"/p/{n}"}, **who}


async def wait_count(worker, user: str, expected: int, timeout: float = 30.0) -> int:
    """Poll the profile until it shows ``expected`` events; returns the last count seen."""
    deadline = asyncio.get_running_loop().time() + timeout
    count = None
    while asyncio.get_running_loop().time() < deadline:
        status, body = await worker.get_json(f"/profiles/{user}")
        count = body["profile"]["events"] if status == 200 else None
        if count == expected:
            return count
        await asyncio.sleep(0.2)
    raise AssertionError(f"{user}: expected {expected} events, last saw {count}")


async def test_event_produced_with_plain_aiokafka_reaches_profile(deployment):
    worker = deployment.worker("w1").start()
    await worker.wait_ready()

    await produce(deployment.broker, deployment.topic("clickstream"), [page_view("alice", n) for n in range(3)])
    await produce(
        deployment.broker, deployment.topic("clickstream"), [page_view("anon-7", n, anonymous=True) for n in range(2)]
    )

    assert await wait_count(worker, "alice", 3) == 3
    assert await wait_count(worker, "anon-7", 2) == 2
    status, body = await worker.get_json("/profiles/nobody")
    assert status == 404
    assert body["error"]["field"] == "id"


@pytest.mark.parametrize("input_topic", ["clickstream", "purchase_events", "engagement_metrics", "identities"])
async def test_bad_records_on_each_input_topic_are_dead_lettered_and_the_rest_processed(deployment, input_topic):
    worker = deployment.worker("w1").start()
    await worker.wait_ready()
    bad = [
        (b"not json", "not valid JSON"),
        (b"", "empty record"),
        (b"[1, 2]", "a message must be a JSON object"),
        (b'{"type": "page"}', "userId or anonymousId is required"),
        (b'{"type": "track", "userId": {"id": 1}, "event": "E"}', "userId must be string or integer"),
        (b'{"type": "track", "userId": "u", "event": "E", "timestamp": 12}', "timestamp must be string"),
        (b'{"type": "page", "userId": "u", "p": "' + b"x" * 33_000 + b'"}', "message larger than 32 KB"),
        (b'{"type": "track", "userId": "u", "event": "Page Engaged", "properties": {"dwell_ms": -4}}',
         "dwell_ms must not be negative"),
        (b'{"type": "track", "userId": "u", "event": "Product Viewed", "properties": {"price": "a lot"}}',
         "price must be a number"),
        (b'{"type": "page", "userId": "u", "timestamp": "2020-01-01T00:00:00Z"}', "more than 30 days before"),
    ]
    good = [page_view("erin", n) for n in range(3)]
    # Valid events before, between and after the bad ones; one key, so one partition keeps their order.
    records = [good[0], *[b for b, _ in bad[:4]], good[1], *[b for b, _ in bad[4:]], good[2]]
    await produce(deployment.broker, deployment.topic(input_topic), records, key=b"erin")

    assert await wait_count(worker, "erin", 3) == 3
    assert worker.running
    letters = await consume_all_with_headers(deployment.broker, deployment.topic("dead_letter"))
    assert [value for value, _ in letters] == [b for b, _ in bad]
    for (value, headers), (_, reason) in zip(letters, bad):
        assert reason in headers["tm-reason"].decode()
        topic, partition, offset = headers["tm-source"].decode().rsplit(":", 2)
        assert topic == deployment.topic(input_topic) and int(partition) >= 0 and int(offset) >= 0
    status, stats = await worker.get_json("/stats/ingest")
    assert stats["outcomes"]["dead_letter"] == len(bad) and stats["outcomes"]["accepted"] == 3


@pytest.mark.parametrize("keep_rocksdb", [True, False], ids=["rocksdb-on-disk", "changelog-only"])
async def test_restart_keeps_table_and_counts_each_event_once(deployment, keep_rocksdb):
    topic = deployment.topic("clickstream")
    first = deployment.worker("first").start()
    await first.wait_ready()
    await produce(deployment.broker, topic, [page_view("carol", n) for n in range(5)])
    await wait_count(first, "carol", 5)
    assert first.stop() == 0

    # Sent while no worker runs: the restarted worker must count exactly these on top of the first five.
    await produce(deployment.broker, topic, [page_view("carol", n) for n in range(5, 7)])
    if not keep_rocksdb:
        shutil.rmtree(first.data_dir)  # the table must come back from its changelog topic

    second = deployment.worker("second", data_dir=first.data_dir).start()
    await second.wait_ready()
    assert await wait_count(second, "carol", 7) == 7
    await asyncio.sleep(3)  # give any re-delivered record time to be (wrongly) counted
    status, body = await second.get_json("/profiles/carol")
    assert (status, body["profile"]["events"]) == (200, 7)


def partition_of(key: str, partitions: int = 8) -> int:
    """The partition Kafka's default partitioner (murmur2, as Faust and table_route use) gives a str key."""
    return DefaultPartitioner()(key.encode(), list(range(partitions)), list(range(partitions)))


async def test_either_of_two_workers_answers_for_users_owned_by_the_other(deployment):
    a = deployment.worker("a").start()
    b = deployment.worker("b").start()
    await a.wait_ready()
    await b.wait_ready()
    source = f"{deployment.app_id}-events-by-id"  # the topic identities (and, while no id is linked, profiles) is partitioned like

    async def settled_assignment() -> tuple[set[int], set[int]]:
        # Both joined one group: each owns a non-empty, disjoint share of the 8 partitions.
        for _ in range(300):
            ha, hb = await a.health(), await b.health()
            if ha and hb and ha[0] == hb[0] == 200:
                pa = set(ha[1]["assigned_partitions"].get(source, []))
                pb = set(hb[1]["assigned_partitions"].get(source, []))
                if pa and pb and not pa & pb and len(pa | pb) == 8:
                    return pa, pb
            await asyncio.sleep(0.2)
        raise AssertionError(f"the two workers never shared {source} between them")

    owned_by_a, owned_by_b = await settled_assignment()
    expected = {f"user-{i}": 1 + i % 4 for i in range(24)}
    for user, count in expected.items():
        await produce(deployment.broker, deployment.topic("clickstream"), [page_view(user, n) for n in range(count)])

    users_of_a = [u for u in expected if partition_of(u) in owned_by_a]
    users_of_b = [u for u in expected if partition_of(u) in owned_by_b]
    assert users_of_a and users_of_b, "the test users must fall on both workers"
    for user in users_of_b:  # asked of a, answered by b
        assert await wait_count(a, user, expected[user]) == expected[user]
    for user in users_of_a:  # asked of b, answered by a
        assert await wait_count(b, user, expected[user]) == expected[user]


async def test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice(deployment):
    topic = deployment.topic("clickstream")
    users = [f"k9-{i}" for i in range(10)]
    first = deployment.worker("first").start()
    await first.wait_ready()
    # Keep producing while the worker processes, and kill it without warning part-way through.
    producing = asyncio.create_task(
        produce(deployment.broker, topic, [page_view(users[n % 10], n) for n in range(600)])
    )
    while True:
        status, body = await first.get_json(f"/profiles/{users[0]}")
        if status == 200 and body["profile"]["events"] >= 5:
            break
        await asyncio.sleep(0.05)
    first.kill()
    assert await producing == 600

    second = deployment.worker("second", data_dir=first.data_dir).start()
    await second.wait_ready()
    for user in users:
        assert await wait_count(second, user, 60, timeout=60) == 60
    await asyncio.sleep(3)
    for user in users:
        status, body = await second.get_json(f"/profiles/{user}")
        assert (status, body["profile"]["events"]) == (200, 60)
