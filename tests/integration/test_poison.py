"""Poison input never stops a stage: a corpus of records no stage can process, written with plain aiokafka to
every topic Tastemaker reads, each followed by good events, on a real worker and broker.

Every good event is processed; every poison record is accounted for (a dead letter with its reason and
position, or a counter in ``GET /stats/ingest``); no stage reads a batch again and again; the worker stays up
and ``/health`` is 200. A worker restarted on changelogs holding poison recovers. A stage that cannot make
progress (its dead-letter topic deleted under it) turns ``/health`` 503 naming it, and recovers by itself.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tastemaker import bundles
from tastemaker.ingest.normalize import normalize
from tastemaker.partitioning import partition_for
from tests.support.kafka import bootstrap, consume_all_with_headers
from tests.support.rules import document
from tests.support.worker import READ_TOKEN, Deployment

pytestmark = pytest.mark.integration

WRITE_KEY = "poison-write-key"
PARTITIONS = 8
RAW_IP = b"203.0.113.77"


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b'"x"' + b"}" * depth


# The corpus: what a producer may write to any topic. Values are bytes as written.
CORPUS: dict[str, bytes] = {
    "nesting-300": b'{"type":"identify","userId":"deep","context":{"ip":"' + RAW_IP + b'"},"traits":' + nested(300) + b"}",
    "nesting-1000": b'{"type":"identify","userId":"deep","traits":' + nested(1000) + b"}",
    "invalid-utf8": b'{"type":"page","userId":"u\xff\xfe"}',
    "nan": b'{"type":"track","userId":"u","event":"E","properties":{"price":NaN}}',
    "infinity": b'{"type":"track","userId":"u","event":"E","properties":{"price":-Infinity}}',
    "1e400": b'{"type":"track","userId":"u","event":"E","properties":{"price":1e400}}',
    "2MB": b'{"type":"page","userId":"u","properties":{"x":"' + b"y" * 2_000_000 + b'"}}',
    "wrong-types": b'{"type":"track","userId":{"a":1},"event":5,"properties":"x"}',
    "not-an-object": b"[1,2,3]",
    "null-bytes": b'{"type":"page","userId":"u\\u0000v","traits":{"k\\u0000":1}}',
    "empty": b"",
    "binary": b"\x00\x01\x02 not json at all \xff",
}
# Kafka keys that are no text, with the values.
BAD_KEY = b"\xff\xfe\x00"


def not_json(value: bytes) -> bool:
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return True
    return False


@pytest.fixture(scope="module")
async def poisoned(broker, tmp_path_factory):
    deployment = Deployment(broker, tmp_path_factory.mktemp("poison"), TASTEMAKER_WRITE_KEYS=f"{WRITE_KEY}=web",
                            TASTEMAKER_PARTITIONS=str(PARTITIONS))
    worker = deployment.worker("w1").start()
    await worker.wait_ready()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), acks="all", compression_type="gzip",
                                max_request_size=8 * 1024 * 1024)  # the 2 MB record, compressed in its batch
    await producer.start()
    yield deployment, worker, producer
    await producer.stop()
    deployment.shutdown()


async def send(producer, topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None):
    """Where the record landed: 'topic:partition:offset'."""
    meta = await producer.send_and_wait(topic, value, key=key, partition=partition)
    return f"{meta.topic}:{meta.partition}:{meta.offset}", meta


def good_message(person: str, n: int, kind: str = "track") -> bytes:
    message = {"type": kind, "userId": person, "messageId": f"{person}-{n}"}
    if kind == "track":
        message.update(event="Product Viewed", properties={"product_id": f"p{n}"})
    else:
        message["traits"] = {"n": n}
    return orjson.dumps(message)


def good_event(person: str, n: int) -> dict:
    """An internal event item's body, as the ingest stage writes it."""
    event = normalize({"type": "track", "event": "Product Viewed", "userId": person, "messageId": f"{person}-b{n}",
                       "properties": {"product_id": f"b{n}"}},
                      topic="clickstream", record_time=time.time(), fallback_id=f"clickstream:0:{n}")
    assert isinstance(event, dict)
    return event


async def wait_events(worker, person: str, count: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        try:
            status, body = await worker.get_json(f"/profiles/{person}")
        except ValueError:  # a 500 as text: table_route before the worker produced to the changelog once
            status = None
        if status == 200 and body["profile"]["events"] >= count:
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"{person}: expected {count} events, last answer {body}\n{worker.log_tail()}")


async def stats(worker) -> dict:
    status, body = await worker.get_json("/stats/ingest")
    assert status == 200
    return body["outcomes"]


async def dead_letters(deployment) -> dict[str, tuple[bytes, dict]]:
    """tm-source -> (value, headers) of every dead letter."""
    letters = await consume_all_with_headers(deployment.broker, deployment.topic("dead_letter"), 3)
    by_source: dict[str, tuple[bytes, dict]] = {}
    for value, headers in letters:
        source = headers["tm-source"].decode()
        assert source not in by_source, f"{source} dead-lettered twice"
        by_source[source] = (value, headers)
    return by_source


class Stream:
    """A decision stream read in the background: the SSE lines as they arrive."""

    def __init__(self, worker, person: str):
        self.url = f"{worker.url}/decisions/{person}/stream"
        self.lines: list[str] = []
        self.task: asyncio.Task | None = None

    async def __aenter__(self):
        self.http = aiohttp.ClientSession()
        response = await self.http.get(self.url, headers={"Authorization": f"Bearer {READ_TOKEN}"},
                                       timeout=aiohttp.ClientTimeout(total=None, sock_read=60))
        assert response.status == 200
        self.task = asyncio.create_task(self._read(response))
        return self

    async def _read(self, response):
        async for line in response.content:
            self.lines.append(line.decode().strip())

    async def __aexit__(self, *exc):
        self.task.cancel()
        await self.http.close()


COLLECTOR_POISON = {
    "nesting-300": ("/v1/track", b'{"userId":"u","event":"E","properties":' + nested(300) + b"}",
                    "properties.a.a.a.a.a.a.a..."),
    "nesting-1000": ("/v1/identify", b'{"userId":"u","traits":' + nested(1000) + b"}", "traits.a.a.a.a.a.a.a..."),
    "nul-in-userId": ("/v1/page", b'{"userId":"u\\u0000v"}', "userId"),
    "nul-in-a-key": ("/v1/identify", b'{"userId":"u","traits":{"k\\u0000":1}}', "traits.k\\u0000"),
}


async def post(worker, path: str, raw: bytes):
    async with aiohttp.ClientSession() as http:
        basic = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        async with http.post(f"{worker.url}{path}", data=raw,
                             headers={"Content-Type": "application/json", "Authorization": basic}) as response:
            return response.status, await response.json()


@pytest.mark.parametrize("path, raw, field", COLLECTOR_POISON.values(), ids=COLLECTOR_POISON.keys())
async def test_the_collector_answers_400_naming_the_field(poisoned, path, raw, field):
    _deployment, worker, _producer = poisoned
    status, answer = await post(worker, path, raw)
    assert status == 400
    assert answer["error"]["status"] == 400 and answer["error"]["field"] == field and answer["error"]["reason"]


async def test_a_batch_keeps_its_good_messages_and_names_the_deep_one(poisoned):
    _deployment, worker, _producer = poisoned
    deep = b'{"type":"identify","userId":"u","traits":' + nested(300) + b"}"
    status, answer = await post(worker, "/v1/batch", b'{"batch":[' + deep + b',{"type":"page","userId":"u"}]}')
    assert status == 200 and answer["accepted"] == 1
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(0, "traits.a.a.a.a.a.a.a...")]


@pytest.mark.parametrize("raw", [
    b'{"userId":"u","event":"E","properties":{"price":NaN}}', b'{"userId":"u","event":"E","properties":{"p":1e400}}',
    b'{"userId":"u\xff","event":"E"}',
], ids=["nan", "1e400", "invalid-utf8"])
async def test_the_collector_answers_400_to_what_is_not_json(poisoned, raw):
    _deployment, worker, _producer = poisoned
    status, answer = await post(worker, "/v1/track", raw)
    assert status == 400 and answer["error"]["reason"].startswith("body is not valid JSON")


async def test_poison_on_every_topic_never_stops_a_stage(poisoned):
    deployment, worker, producer = poisoned
    run = uuid.uuid4().hex[:6]
    app_id = deployment.app_id
    expected_dead: dict[str, str] = {}  # tm-source -> what the dead letter's reason starts with

    # 1. The inputs: every poison record, then a good event of the topic's own person, each time.
    for name in ("clickstream", "purchase_events", "engagement_metrics", "identities"):
        topic = deployment.topic(name)
        person = f"good-{name}-{run}"
        kind = "identify" if name == "identities" else "track"
        for n, (poison, value) in enumerate(CORPUS.items()):
            where, _ = await send(producer, topic, value, key=BAD_KEY if n % 2 else b"u")
            expected_dead[where] = ""
            await send(producer, topic, good_message(person, n, kind), key=person.encode())
    # 2. The internal topics: each poison record as a "bundle", then a bundle holding poison items among
    #    good ones, sent to the partition its good items' key belongs to; then a good bundle under a key
    #    that is no text.
    for stage_topic in (f"{app_id}-events-by-id", f"{app_id}-events-by-person"):
        person = f"good-{stage_topic.rsplit('-', 1)[-1]}-{run}"
        partition = partition_for(person.encode(), PARTITIONS)
        for value in CORPUS.values():
            where, _ = await send(producer, stage_topic, value, key=b"junk", partition=partition)
            expected_dead[where] = "unreadable bundle"
        good = [bundles.item(person, good_event(person, 0)), bundles.item(person, good_event(person, 1))]
        far_future = {**good_event(person, 2), "event_time": 95_617_584_000.0}  # the year 5000
        items = [orjson.dumps(good[0]), b'{"key":"' + person.encode() + b'","body":' + nested(300) + b"}"] + [
            orjson.dumps(item) for item in (
                {"key": person, "body": {"x": "y" * 600_000}},
                {"key": person, "body": {**good_event(person, 3), "item_ids": "not-a-list"}},
                {"key": person, "body": far_future}, [1, 2], {"key": "", "body": good_event(person, 4)},
                {"key": person, "body": {"kind": "explode"}}, good[1])]
        bundle = b'{"items":[' + b",".join(items) + b"]}"
        where, meta = await send(producer, stage_topic, bundle, key=person.encode(), partition=partition)
        for index in range(1, len(items) - 1):
            position = bundles.position_in_bundle(meta.topic, meta.partition, meta.offset, index)
            expected_dead[position.encode().decode()] = "unreadable"
        third = bundles.item(person, good_event(person, 5))
        await send(producer, stage_topic, bundles.pack([third]), key=BAD_KEY, partition=partition)
    # 3. The followed topics: rules, items, models (compacted, read whole) and decisions (from the end).
    async with Stream(worker, f"sse-{run}") as stream:
        await asyncio.sleep(1.0)
        for name in CORPUS:
            await send(producer, deployment.topic("rules"), CORPUS[name], key=f"junk-rule-{name}".encode())
            await send(producer, deployment.topic("items"), CORPUS[name], key=f"junk-item-{name}".encode())
            await send(producer, f"{app_id}-models", CORPUS[name], key=b"serving")
            await send(producer, deployment.topic("personalization_decisions"), CORPUS[name], key=b"junk")
            await send(producer, f"{app_id}-trending-changelog", CORPUS[name], key=f"junk:{name}".encode())
        decision = {"decision_id": f"good-{run}", "ids": [f"sse-{run}"], "person": f"sse-{run}", "rule_id": "r"}
        await send(producer, deployment.topic("personalization_decisions"), orjson.dumps(decision), key=b"sse")
        await send(producer, deployment.topic("rules"), orjson.dumps(document(id=f"good-rule-{run}")),
                   key=f"good-rule-{run}".encode())
        await send(producer, deployment.topic("items"), orjson.dumps({"item_id": f"good-item-{run}", "title": "Good"}),
                   key=f"good-item-{run}".encode())
        deadline = time.monotonic() + 30
        while f"id: good-{run}" not in stream.lines and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert f"id: good-{run}" in stream.lines, stream.lines  # the decision follower went on

    # Every good event was processed.
    for name in ("clickstream", "purchase_events", "engagement_metrics", "identities"):
        await wait_events(worker, f"good-{name}-{run}", len(CORPUS))
    for stage in ("id", "person"):
        body = await wait_events(worker, f"good-{stage}-{run}", 3)  # two in the poisoned bundle, one under a bad key
        assert body["profile"]["events"] == 3
    for path in (f"/rules/good-rule-{run}", f"/items/good-item-{run}", "/trending"):
        deadline = time.monotonic() + 20
        while (await worker.get_json(path))[0] != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
        assert (await worker.get_json(path))[0] == 200, path

    # Every poison record is accounted for: a dead letter at its position, or a counter.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        letters = await dead_letters(deployment)
        if set(expected_dead) <= set(letters):
            break
        await asyncio.sleep(1)
    assert set(expected_dead) <= set(letters), sorted(set(expected_dead) - set(letters))
    for where, reason in expected_dead.items():
        value, headers = letters[where]
        assert headers["tm-reason"].decode().startswith(reason) and headers["tm-reason"]
        assert RAW_IP not in value and RAW_IP not in b"".join(headers.values())
        assert len(value) <= 64 * 1024
    deep_letter = letters[next(w for w in expected_dead if w.startswith(deployment.topic("clickstream")))]
    assert deep_letter[1]["tm-field"].startswith(b"traits.a.a.a") and deep_letter[1]["tm-scrubbed"] == b"ip"
    outcomes = await stats(worker)
    assert outcomes["refused:rules"] == len(CORPUS)
    assert outcomes["refused:items"] == len(CORPUS)
    assert outcomes["refused:models"] == len(CORPUS)
    # The trending follower: what is not JSON is skipped and counted; JSON of another shape is ignored.
    assert outcomes[f"skipped:follow:{app_id}-trending-changelog"] == sum(map(not_json, CORPUS.values()))

    # No stage looped; the worker is up and healthy.
    log = worker.log_path.read_text(errors="replace")
    assert log.count("reading again") <= 2 and "Crashed reason" not in log
    assert worker.running
    status, health = await worker.health()
    assert status == 200, health


async def test_a_worker_recovers_tables_whose_changelogs_hold_poison(poisoned):
    deployment, worker, producer = poisoned
    run = uuid.uuid4().hex[:6]
    person = f"restored-{run}"
    for n in range(3):
        await send(producer, deployment.topic("clickstream"), good_message(person, n), key=person.encode())
    await wait_events(worker, person, 3)
    # Poison in every changelog, on every partition, the last record there (recovery's end offset).
    tables = ("profiles", "identities", "seen_messages", "trending")
    for table in tables:
        for partition in range(PARTITIONS):
            for name, value in CORPUS.items():
                await send(producer, f"{deployment.app_id}-{table}-changelog", value,
                           key=f"junk-{name}-{partition}".encode(), partition=partition)
    assert worker.stop() == 0
    # A fresh data dir: every table is recovered from its changelog alone.
    restarted = deployment.worker(f"restarted-{run}").start()
    await restarted.wait_ready(timeout=120)
    body = await wait_events(restarted, person, 3)
    assert body["profile"]["events"] == 3
    status, _ = await restarted.get_json("/profiles/junk-binary-0")
    assert status == 404  # a value that is no JSON object reads as absent
    outcomes = await stats(restarted)
    assert outcomes.get("skipped:table_value", 0) >= 1
    await send(producer, deployment.topic("clickstream"), good_message(person, 9), key=person.encode())
    await wait_events(restarted, person, 4)
    status, health = await restarted.health()
    assert status == 200, health


async def test_a_stage_that_cannot_make_progress_turns_health_503_then_recovers(broker, tmp_path):
    deployment = Deployment(broker, tmp_path, TASTEMAKER_STALL_AFTER="4", TASTEMAKER_PARTITIONS=str(PARTITIONS))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(broker))
    await admin.start()
    try:
        worker = deployment.worker("w").start()
        await worker.wait_ready()
        # The dead-letter topic goes away (an operator's mistake): ingest cannot send what it refuses.
        dead_letter = deployment.topic("dead_letter")
        await admin.delete_topics([dead_letter])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(deployment.topic("clickstream"), b"{not json", key=b"k")
            await producer.send_and_wait(deployment.topic("clickstream"), good_message("after-stall", 0), key=b"a")
        finally:
            await producer.stop()
        failing = await wait_health(worker, 503, timeout=90)
        check = failing["checks"]["stage:ingest"]
        assert not check["ok"] and check["detail"].startswith("ingest: no record finished for ")
        assert [name for name, c in failing["checks"].items() if not c["ok"]] == ["stage:ingest"]
        # The topic is back: the stage goes on by itself, and the refused record is dead-lettered.
        await admin.create_topics([NewTopic(dead_letter, PARTITIONS, 1)])
        await wait_health(worker, 200, timeout=120)
        await wait_events(worker, "after-stall", 1)
        letters = await consume_all_with_headers(broker, dead_letter, 3)
        assert [h["tm-reason"].decode()[:14] for _v, h in letters] == ["not valid JSON"]
        assert worker.running
    finally:
        await admin.close()
        deployment.shutdown()


async def wait_health(worker, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    answer = None
    while time.monotonic() < deadline:
        answer = await worker.health()
        if answer and answer[0] == status:
            return answer[1]
        await asyncio.sleep(0.5)
    raise AssertionError(f"/health never answered {status}: {answer}\n{worker.log_tail()}")
