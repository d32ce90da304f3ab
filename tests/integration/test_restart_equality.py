"""kill -9 mid-stream, restart: the profiles, windows, sessions, rule state and fired decisions equal those of
an uninterrupted run of the same events (two deployments on the real broker, compared state by state)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timezone

import aiohttp
import orjson
import pytest

from tests.integration.test_rules import RULES, TOKEN
from tests.support.kafka import consume_all
from tests.support.worker import Deployment

pytestmark = pytest.mark.integration

PERSONS = 40
EVENTS = 1200


def events(base: float) -> list[tuple[str, str, dict]]:
    """(input topic, person, Segment message), the same for both runs: browsing, heartbeats, carts (some left,
    some checked out), orders, with gaps that end sessions on event time and ties at one timestamp."""
    rng = random.Random(42)
    clock = {p: base - 7200 + rng.uniform(0, 600) for p in range(PERSONS)}
    out = []
    for n in range(EVENTS):
        p = rng.randrange(PERSONS)
        clock[p] += rng.choice((2, 5, 30, 90, 2400))  # 2400 s > the 1800 s idle timeout
        who = f"r-{p}"
        at = datetime.fromtimestamp(min(clock[p], base), timezone.utc).isoformat().replace("+00:00", "Z")
        common = {"anonymousId": who, "messageId": f"m-{n}", "timestamp": at}
        roll = rng.random()
        if roll < 0.3:
            out.append(("clickstream", who, {**common, "type": "page", "name": "P", "messageId": f"pv-{n}",
                                             "properties": {"path": rng.choice(["/", "/p/a", "/blog/x", "/guides/sizing"])}}))
        elif roll < 0.6:
            out.append(("clickstream", who, {**common, "type": "track", "event": "Product Viewed", "properties": {
                "product_id": f"sku-{rng.randrange(30)}", "category": rng.choice(["shoes", "accessories"])}}))
        elif roll < 0.8:
            out.append(("engagement_metrics", who, {**common, "type": "track", "event": "Page Engaged", "properties": {
                "page_view_id": f"pv-{n - rng.randrange(1, 4)}", "dwell_ms": rng.randrange(1000, 400_000),
                "scroll_depth": rng.randrange(100)}}))
        elif roll < 0.9:
            out.append(("purchase_events", who, {**common, "type": "track", "event": "Product Added",
                                                 "properties": {"product_id": "sku-1", "price": 9.5}}))
        elif roll < 0.96:
            out.append(("purchase_events", who, {**common, "type": "track", "event": "Checkout Started",
                                                 "properties": {}}))
        else:
            out.append(("purchase_events", who, {**common, "type": "track", "event": "Order Completed",
                                                 "properties": {"order_id": f"o-{n}", "total": 9.5}}))
    return out


def deployment(broker, tmp_path) -> Deployment:
    # No rate-based bot flags: the rate meter is an in-memory estimate, reset by a restart.
    return Deployment(broker, tmp_path, TASTEMAKER_FATIGUE_PER_SESSION="20",
                      TASTEMAKER_BOT_EVENTS_PER_MINUTE="1000000")


async def apply_rules(worker) -> None:
    async with aiohttp.ClientSession() as http:
        for rule in RULES:
            # Timers fire on event time here (the person's next event): a wall-clock firing would depend
            # on how long the kill and the restart took, which is what a wall clock is for.
            rule = {**rule, "wait": "10m"} if "wait" in rule else rule
            async with http.put(f"{worker.url}/rules/{rule['id']}", data=orjson.dumps(rule),
                                headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
                assert answer.status == 200, await answer.text()


async def produce_all(deployed: Deployment, stream: list) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=deployed.broker.split("://")[1], acks="all", linger_ms=5)
    await producer.start()
    try:
        for _, key, message in stream:
            # One input topic: Kafka orders a person's records within a partition, not across topics, so two
            # runs (interrupted or not) see one person's events in the same order only from one topic. State
            # that depends on arrival order (recent lists, sequences, ties at one timestamp) needs it.
            await producer.send(deployed.topic("clickstream"), orjson.dumps(message), key=key.encode())
            await asyncio.sleep(0.002)  # a stream, not one burst: the kill lands mid-way
        await producer.flush()
    finally:
        await producer.stop()


async def states(worker, expected: dict[str, int], timeout: float = 120) -> dict[str, dict]:
    """Every person's raw state once their events are all applied and no timer is left to fire."""
    deadline = time.monotonic() + timeout
    found: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for person, count in expected.items():
            status, state = await worker.get_json(f"/persons/{person}")
            if status == 200 and state["profile"]["events"] == count:
                found[person] = state
        if len(found) == len(expected):
            return found
        await asyncio.sleep(1)
    missing = sorted(set(expected) - set(found))
    raise AssertionError(f"persons never complete: {missing[:5]}")


def comparable(state: dict) -> dict:
    # Watermarks name this deployment's topics, and the clock holds receive times; everything the events
    # taught must be equal.
    return {k: v for k, v in state.items() if k not in ("applied", "clock")}


async def decisions(deployed: Deployment) -> dict[str, dict]:
    records = await consume_all(deployed.broker, deployed.topic("personalization_decisions"), timeout=2.0)
    out = {}
    for _, value in records:
        decision = orjson.loads(value)
        decision.pop("emitted_at")
        assert out.setdefault(decision["decision_id"], decision) == decision  # a repeat is the same decision
    return out


async def test_kill_9_then_restart_equals_an_uninterrupted_run(broker, tmp_path):
    base = time.time() - 5
    stream = events(base)
    expected: dict[str, int] = {}
    for _, who, _ in stream:
        expected[who] = expected.get(who, 0) + 1

    calm, killed = deployment(broker, tmp_path / "calm"), deployment(broker, tmp_path / "killed")
    try:
        uninterrupted = calm.worker("calm").start()
        first = killed.worker("first").start()
        await asyncio.gather(uninterrupted.wait_ready(), first.wait_ready())
        await asyncio.gather(apply_rules(uninterrupted), apply_rules(first))

        producing = asyncio.create_task(produce_all(killed, stream))
        await produce_all(calm, stream)
        while True:  # kill once part of the stream has been applied
            status, state = await first.get_json("/persons/r-0")
            if status == 200 and state["profile"]["events"] >= expected["r-0"] // 3:
                break
            await asyncio.sleep(0.05)
        first.kill()
        await producing
        second = killed.worker("second", data_dir=first.data_dir).start()
        await second.wait_ready()

        reference = await states(uninterrupted, expected)
        restarted = await states(second, expected)
        differing = [p for p in expected if comparable(restarted[p]) != comparable(reference[p])]
        assert differing == []
        assert any(state["sessions"]["history"] for state in reference.values())  # sessions did close
        assert any(state["windows"]["times"] for state in reference.values())

        calm_decisions, killed_decisions = await decisions(calm), await decisions(killed)
        assert calm_decisions  # rules fired, timers included
        assert {d["trigger"]["type"] for d in calm_decisions.values()} >= {"track", "page", "timer", "session_end"}
        assert killed_decisions == calm_decisions
    finally:
        calm.shutdown()
        killed.shutdown()
