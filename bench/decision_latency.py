"""``make bench-decisions``: event-to-decision latency through real Kafka, next to Kafka's own latency.

Goal: p50 and p99 at 1,000 events/s, from produce time to the decision's arrival at a subscriber;
p99 under 50 ms.

1. Kafka as in ``make bench`` (bench/common.py): ``TASTEMAKER_BROKER`` if set, else the local broker.
2. Every repetition starts each system fresh (new app id / topic prefix, so no backlog or state is inherited):
   ``kafka-1-hop``: a bare aiokafka pass-through (this file, ``passthrough`` mode, its own process) that reads
   ``<prefix>clickstream`` and writes one decision-shaped record per event to an output topic: Kafka's own
   produce -> consume -> produce -> consume latency, the floor of any stream processor with one stage.
   ``kafka-3-hops``: the same pass-through chained through two intermediate topics, so the record crosses as
   many consume-produce stages as Tastemaker's longest path (ingest -> events-by-id -> identity ->
   events-by-person -> person -> personalization_decisions): the floor of that path. A probe, an anonymous id
   that is its own person, takes two (the stream core applies identity and person in one pass), so its floor
   lies between the two baselines. The ratio columns are to ``kafka-1-hop`` and to ``kafka-3-hops``.
   ``tastemaker``: ``faust -A app worker -l info`` with ``TASTEMAKER_ROLES=stream``, an admin token, fatigue
   caps raised to 1,000 per session and day (they cap decisions per person), and, applied through the admin
   API (``PUT /rules/{id}``) once ``/health`` is 200, ``RULES``: one rule ``probe`` firing on every
   ``Probe`` event (no cooldown, no cap) and 49 others that are evaluated but do not fire on the load:
   30 indexed on other event names/types (never sent, so never candidates: they cost only the index lookup)
   and 19 unindexed, evaluated on every event, reading the profile, the session, the windows
   (``count(...)``) and event fields.
3. Readiness, not charged: single probes are sent until one comes back as a decision (the worker and the
   pass-through join their consumer groups lazily; the first record otherwise waits for that).
4. Subscriber: a plain aiokafka consumer in this process, outside any group, assigned every partition of
   the output topic (``<prefix>personalization_decisions``) and positioned at its end before the load
   starts; it stamps each record's arrival (``time.time()`` when ``getmany`` returns it).
5. Load: a second process (this file, ``produce`` mode) sends ``Probe`` track events, open loop, at
   ``--rate``/s for ``--seconds``, round robin over ``--persons`` anonymous ids (keys), straight to
   ``<prefix>clickstream`` with librdkafka (confluent-kafka, linger 0: ``produce``). Event n is scheduled at t0 + n/rate and its
   ``messageId`` carries that scheduled time; a late sender is charged for its delay (no coordinated
   omission); the producer reports how far behind its schedule it ever was.
6. Latency of a probe = arrival of its decision (matched by ``trigger.event_id`` == ``messageId``) - its
   scheduled send time; the first ``--warmup`` seconds of probes are discarded. Also split at the decision's
   ``emitted_at`` (the person stage's clock when it built the decision): "in worker" (produce -> decision
   built, incl. three Kafka hops) and "out" (decision sent -> subscriber). After the load, the subscriber
   waits until every probe is matched or ``--drain`` seconds pass without progress; probes never matched are
   reported as missing.
   All clocks are ``time.time()`` of processes on one machine.
7. CPU of the server process from the start of the load to the end of the drain (us per event), and for Tastemaker its ``/stats/ingest``
   outcomes (rules fired, suppressed, errors, bots, dead letters) as a check that the load was what it
   seems.

Prints medians over repetitions and ratios; writes every run to ``bench/results/decisions-<time>.json``.
Then (``--sweep``, ``BENCH_SWEEP``: 250,500,750 by default; empty for none) Tastemaker alone at each of those
rates, ``--runs`` times each: p50 and p99 per rate, with the main run's, and the highest rate held with a
median p99 under 100 ms and no probe missing (the second latency figure the goal asks for).
Options: ``BENCH_RUNS`` (3), ``BENCH_RATE`` (1000), ``BENCH_SECONDS`` (20), ``BENCH_PERSONS`` (2000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka import Producer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BENCH_TOKEN, FAUST, PYTHON, REPO, authorized, bootstrap_of, cpu_seconds,  # noqa: E402
                    delete_topics_of, say, start_kafka, stop, stop_kafka, wait_healthy, worker_env)

TOKEN = BENCH_TOKEN  # this run's workers only (bench/common.py worker_env sets it)
PROBE = "Probe"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def _decision(block: str, kind: str = "content_block") -> list[dict]:
    return [{"type": "decision", "kind": kind, "block": block}]


def _rules() -> list[dict]:
    """The probe rule and 49 realistic others that do not fire on Probe events."""
    rules = [{"id": "probe", "version": 1, "description": "fires on every Probe event", "priority": 1000,
              "when": f'event.name == "{PROBE}"', "actions": _decision("probe", "message")}]
    indexed = [  # candidates only for events of these names/types, none of which the load sends
        ('event.name == "Product Viewed" && count("Product Viewed", "10m") >= 3', "1h"),
        ('event.name == "Product Viewed" && event.category == "accessories"', "2h"),
        ('event.name == "Product Viewed" && event.price != null && event.price > 500.0', "1d"),
        ('event.name == "Product Viewed" && count_item(event.item_ids[0], "1d") >= 3', "1d"),
        ('event.name == "Product Viewed" && count_category("shoes", "1h") >= 5', "6h"),
        ('event.name == "Product Added"', None),
        ('event.name == "Product Added" && profile.cart.value > 200.0', "1d"),
        ('event.name == "Product Added" && size(profile.cart.items) >= 5', "1d"),
        ('event.name == "Product Removed" && size(profile.cart.items) == 0', "1h"),
        ('event.name == "Cart Viewed" && profile.intent.abandonment > 0.7', "2h"),
        ('event.name == "Checkout Started"', "1h"),
        ('event.name == "Checkout Started" && profile.purchases == 0', "1d"),
        ('event.name == "Order Completed"', None),
        ('event.name == "Order Completed" && profile.purchases >= 3', "7d"),
        ('event.name == "Order Completed" && event.price != null && event.price > 1000.0', "7d"),
        ('event.name == "Products Searched" && count("Products Searched", "10m") >= 4', "1h"),
        ('event.name == "Coupon Applied"', "1d"),
        ('event.name == "Signed Up"', None),
        ('event.name == "Signed In" && has_segment("lapsed")', "7d"),
        ('event.name == "Wishlist Added" && count("Wishlist Added", "1d") >= 3', "1d"),
        ('event.name == "Review Submitted"', "7d"),
        ('event.name == "Video Played" && count("Video Played", "1h") >= 2', "1h"),
        ('event.name == "Newsletter Subscribed"', None),
        ('event.name == "Page Engaged" && page_dwell_s() > 300.0', "1h"),
        ('event.name == "Page Engaged" && event.scroll_depth != null && event.scroll_depth >= 90', "1h"),
        ('event.type == "page" && event.page_path == "/guides/sizing"', "1d"),
        ('event.type == "page" && event.page_type == "product" && session.page_count >= 10', "1h"),
        ('event.type == "page" && event.page_type == "checkout" && profile.cart.value > 0.0', "1h"),
        ('event.type == "page" && event.page_path == "/pricing" && count("page", "1d") >= 5', "1d"),
        ('event.type == "session_end" && session.bounce', None),
    ]
    unindexed = [  # evaluated on every event, Probe included
        'profile.intent.purchase > 0.95 && profile.cart.value > 300.0',
        'has_segment("vip") && session.page_count > 3',
        'profile.purchases >= 5 && session.duration_s > 600',
        'size(profile.cart.items) >= 10',
        'profile.cart.value > 2000.0',
        'profile.intent.abandonment > 0.9 && size(profile.cart.items) > 0',
        'session.events > 500',
        'session.page_count >= 30',
        'count("Product Viewed", "1h") >= 20 && profile.purchases == 0',
        'count_category("sale", "1d") > 10',
        'event.device_type == "tablet" && session.page_count > 10',
        'event.locale == "fr-FR" && has_segment("newsletter")',
        # has(): reads the one trait; `"plan" in profile.traits` reads the map whole, past the cost budget.
        'has(profile.traits.plan) && profile.traits.plan == "gold" && session.page_count >= 3',
        'size(profile.segments) > 20',
        'has_segment("buyers") && count("Order Completed", "1d") >= 2',
        '"source" in event.campaign && event.campaign.source == "winback"',
        'profile.intent.research > 0.95 && session.duration_s > 1800',
        'session.converted && profile.purchases > 10',
        'event.price != null && event.price > 5000.0',
    ]
    kinds = ("content_block", "offer", "recommendation_block", "message")
    for i, (when, cooldown) in enumerate(indexed):
        rule = {"id": f"indexed-{i:02}", "version": 1, "description": "indexed on another event", "priority": i,
                "when": when, "actions": _decision(f"block-{i}", kinds[i % 4])}
        if cooldown:
            rule["cooldown"] = cooldown
        rules.append(rule)
    for i, when in enumerate(unindexed):
        rules.append({"id": f"every-event-{i:02}", "version": 1, "description": "evaluated on every event",
                      "priority": 100 + i, "when": when, "cooldown": "1d", "cap": {"count": 3, "per": "7d"},
                      "actions": _decision(f"every-{i}", kinds[i % 4])})
    return rules


RULES = _rules()


# ---------------------------------------------------------------------------------------------------------
# The load: a process of its own (``produce`` mode).

def probe(run: str, n: int, scheduled: float, person: str) -> bytes:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps({
        "type": "track", "event": PROBE, "anonymousId": person, "messageId": f"{run}:{n}:{scheduled:.6f}",
        "timestamp": now, "properties": {"n": n},
        "context": {"userAgent": UA, "page": {"path": "/p/sku-1", "url": "https://shop.example/p/sku-1"}},
    })


def parse_id(message_id: str) -> tuple[str, int, float] | None:
    try:
        run, n, scheduled = message_id.rsplit(":", 2)
        return run, int(n), float(scheduled)
    except (ValueError, AttributeError):
        return None


def produce(args) -> None:
    """The open-loop sender. librdkafka (confluent-kafka, the bench dependencies), not aiokafka: on these
    2 cores aiokafka's per-send Python cost took ~45% of a core at 1,000 sends/s, CPU the measured worker
    and the broker then lacked; librdkafka sends from its own C threads (~5% of a core here)."""
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 0, "enable.idempotence": False})
    producer.list_topics(args.topic, timeout=10)  # topic metadata before the clock starts
    total = int(args.rate * args.seconds)
    t0 = time.time() + 0.2
    lags: list[float] = []
    errors = 0

    def delivered(error, message) -> None:
        nonlocal errors
        errors += error is not None

    for n in range(total):
        scheduled = t0 + n / args.rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        person = f"dl-{args.run}-{n % args.persons}"
        producer.produce(args.topic, probe(args.run, n, scheduled, person), key=person.encode(),
                         on_delivery=delivered)
        producer.poll(0)
        lags.append(time.time() - scheduled)
    producer.flush(30)
    lags.sort()
    print(orjson.dumps({
        "sent": total, "errors": errors, "t0": t0,
        "send_lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))] * 1000, 2) if lags else None,
        "send_lag_max_ms": round(lags[-1] * 1000, 2) if lags else None,
    }).decode(), flush=True)


# ---------------------------------------------------------------------------------------------------------
# The baseline: a bare consume-and-produce loop per hop, in a process of its own (``passthrough`` mode).

async def passthrough(args) -> None:
    topics = [f"{args.prefix}clickstream", *(f"{args.prefix}hop{i}" for i in range(1, args.hops)),
              f"{args.prefix}out"]
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, linger_ms=0)
    await producer.start()

    async def stage(i: int) -> None:
        source, target, last = topics[i], topics[i + 1], i == args.hops - 1
        consumer = AIOKafkaConsumer(source, bootstrap_servers=args.bootstrap, group_id=f"{args.prefix}stage{i}",
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for record in records:
                        value = record.value
                        if last:  # what a decision needs from its event: its id; one record per event
                            event = orjson.loads(value)
                            value = orjson.dumps({"rule_id": "probe", "trigger": {"event_id": event["messageId"]},
                                                  "emitted_at": time.time()})
                        await producer.send(target, value, key=record.key)  # not waiting for the ack
        finally:
            await consumer.stop()

    try:
        await asyncio.gather(*(stage(i) for i in range(args.hops)))
    finally:
        await producer.stop()


# ---------------------------------------------------------------------------------------------------------
# The measurement (default mode).

class Subscriber:
    """Every partition of one topic, from its end, outside any group; arrival time of every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.arrivals: dict[str, tuple[float, float | None]] = {}  # event id -> (arrival, emitted_at)
        self.duplicates = 0
        self.other_rules: dict[str, int] = {}
        self.seen = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await self.consumer.start()
        partitions = None
        for _ in range(100):  # as app/topic_follower.py: fresh metadata (the cache covers assigned topics only)
            partitions = (await self.consumer._client.fetch_all_metadata()).partitions_for_topic(self.topic)
            if partitions:
                break
            await asyncio.sleep(0.1)
        if not partitions:
            raise SystemExit(f"{self.topic}: no such topic")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self.consumer.position(tp)  # positioned before any load
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            arrival = time.time()
            for records in batches.values():
                for record in records:
                    self.seen += 1
                    try:
                        decision = orjson.loads(record.value)
                        event_id = decision["trigger"]["event_id"]
                        rule_id = decision.get("rule_id")
                    except (ValueError, KeyError, TypeError):
                        continue
                    if rule_id != "probe":
                        self.other_rules[rule_id] = self.other_rules.get(rule_id, 0) + 1
                    elif event_id in self.arrivals:
                        self.duplicates += 1
                    else:
                        self.arrivals[event_id] = (arrival, decision.get("emitted_at"))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.consumer.stop()


def percentile(values: list[float], q: float) -> float | None:
    """Nearest rank, in ms."""
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def until_ready(bootstrap: str, topic: str, subscriber: Subscriber, timeout: float = 120) -> float:
    """Single probes until one comes back: the consumer groups have joined and every stage is live."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    started = time.monotonic()
    try:
        n = 0
        while time.monotonic() - started < timeout:
            message_id = probe("ready", n, time.time(), f"ready-{n % 8}")
            await (await producer.send(topic, message_id, key=f"ready-{n % 8}".encode()))
            n += 1
            for _ in range(10):
                await asyncio.sleep(0.1)
                if any(k.startswith("ready:") for k in subscriber.arrivals):
                    return time.monotonic() - started
        raise SystemExit(f"no decision within {timeout:.0f} s of the first probe; see the logs in .run/bench/")
    finally:
        await producer.stop()


async def measure(args, bootstrap: str, prefix: str, output: str, server) -> dict:
    """Subscriber at the end of ``output``; readiness; the load from a second process; latencies."""
    subscriber = Subscriber(bootstrap, output)
    await subscriber.start()
    try:
        ready_s = await until_ready(bootstrap, f"{prefix}clickstream", subscriber)
        await asyncio.sleep(1.0)  # let the readiness probes' stragglers pass
        run = uuid.uuid4().hex[:8]
        cmd = [PYTHON, __file__, "produce", "--bootstrap", bootstrap, "--topic", f"{prefix}clickstream",
               "--rate", str(args.rate), "--seconds", str(args.seconds), "--persons", str(args.persons),
               "--run", run]
        cpu0 = cpu_seconds(server.pid)
        load = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
        out, _ = await load.communicate()
        if load.returncode:
            raise SystemExit(f"the load generator failed ({load.returncode})")
        sent = orjson.loads(out.strip().splitlines()[-1])
        total = sent["sent"]
        # Drain: until every probe is matched, or no progress for --drain seconds.
        mine = lambda: sum(1 for k in subscriber.arrivals if k.startswith(f"{run}:"))  # noqa: E731
        last, last_change = mine(), time.monotonic()
        while last < total and time.monotonic() - last_change < args.drain:
            await asyncio.sleep(0.25)
            now = mine()
            if now != last:
                last, last_change = now, time.monotonic()
        cpu = cpu_seconds(server.pid) - cpu0  # the load and the drain: all the work the load caused
    finally:
        await subscriber.stop()
    warmup_n = int(args.warmup * args.rate)
    latencies, inside, outside = [], [], []
    matched = set()
    for event_id, (arrival, emitted_at) in subscriber.arrivals.items():
        parsed = parse_id(event_id)
        if not parsed or parsed[0] != run:
            continue
        _, n, scheduled = parsed
        matched.add(n)
        if n < warmup_n:
            continue
        latencies.append(arrival - scheduled)
        if emitted_at is not None:
            inside.append(emitted_at - scheduled)
            outside.append(arrival - emitted_at)
    measured = total - warmup_n
    return {
        "sent": total, "measured": measured, "matched": len(latencies),
        "missing": measured - len(latencies), "missing_in_warmup": warmup_n - len(matched & set(range(warmup_n))),
        "duplicates": subscriber.duplicates, "other_rules": subscriber.other_rules,
        "p50_ms": percentile(latencies, 0.50), "p90_ms": percentile(latencies, 0.90),
        "p99_ms": percentile(latencies, 0.99), "p999_ms": percentile(latencies, 0.999),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "in_worker_p50_ms": percentile(inside, 0.50), "in_worker_p99_ms": percentile(inside, 0.99),
        "out_p50_ms": percentile(outside, 0.50), "out_p99_ms": percentile(outside, 0.99),
        "producer": sent, "cpu_us_per_event": round(cpu / max(total, 1) * 1e6, 1),
        "ready_after_s": round(ready_s, 1),
    }


def admin_put(url: str, rule: dict) -> None:
    request = urllib.request.Request(f"{url}/rules/{rule['id']}", data=orjson.dumps(rule), method="PUT",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            if answer.status == 200:
                return
            body = answer.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    raise SystemExit(f"PUT /rules/{rule['id']}: {body[:300]!r}")


def port_free(port: int) -> None:
    with socket.socket() as probe_socket:
        if probe_socket.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is taken by another server: set BENCH_PORT")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(authorized(url), timeout=5) as answer:
        return json.loads(answer.read())


def repetition(name: str, args, broker: str, run_dir) -> dict:
    bootstrap = bootstrap_of(broker)
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    prefix = f"{app_id}."
    url = f"http://127.0.0.1:{args.port}"
    if name == "tastemaker":
        port_free(args.port)  # else /health and the admin API would be answered by whatever holds the port
        cmd = [FAUST, "-A", "app", "worker", "-l", "info"]
        env = worker_env(broker, app_id, args.port, run_dir / "data", TASTEMAKER_ROLES="stream",
                         TASTEMAKER_PARTITIONS=str(args.partitions),
                         TASTEMAKER_FATIGUE_PER_SESSION="1000", TASTEMAKER_FATIGUE_PER_DAY="1000")
        output = f"{prefix}personalization_decisions"
    else:
        hops = int(name.split("-")[1])
        topics = [f"{prefix}clickstream", *(f"{prefix}hop{i}" for i in range(1, hops)), f"{prefix}out"]
        asyncio.run(create_topics(bootstrap, topics, args.partitions))
        cmd = [PYTHON, __file__, "passthrough", "--bootstrap", bootstrap, "--prefix", prefix, "--hops", str(hops)]
        env = dict(os.environ)
        output = f"{prefix}out"
    with open(run_dir / f"{name}.log", "ab") as log:
        server = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        (run_dir / f"{name}.pid").write_text(str(server.pid))  # for py-spy
        outcomes = None
        if name == "tastemaker":
            wait_healthy(url, server)
            for rule in RULES:
                admin_put(url, rule)
        result = asyncio.run(measure(args, bootstrap, prefix, output, server))
        if name == "tastemaker":
            outcomes = get_json(f"{url}/stats/ingest")["outcomes"]
            result["outcomes"] = outcomes
        if server.poll() is not None:
            raise SystemExit(f"{name} exited during the run; see .run/bench/{name}.log")
    finally:
        stop(server)
        delete_topics_of(bootstrap_of(broker), app_id)
    checks = ""
    if outcomes is not None:
        errors = sum(v for k, v in outcomes.items() if k.startswith("rules:error:"))
        suppressed = sum(v for k, v in outcomes.items() if k.startswith("rules:suppressed:"))
        bots = sum(v for k, v in outcomes.items() if k.startswith("bot:"))
        checks = (f", fired {outcomes.get('rules:fired', 0)}, suppressed {suppressed}, rule errors {errors}, "
                  f"bots {bots}, dead letters {outcomes.get('dead_letter', 0)}")
        result.update(rule_errors=errors, suppressed=suppressed, bots=bots)
    say(f"  {name:<12} p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms; "
        f"{result['matched']}/{result['measured']} matched, missing {result['missing']}, "
        f"send lag max {result['producer']['send_lag_max_ms']} ms, {result['cpu_us_per_event']} us CPU/event"
        f"{checks}")
    return result


def median_of(reps: list[dict], key: str) -> float | None:
    values = [r[key] for r in reps if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode")
    p = sub.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--persons", type=int, required=True)
    p.add_argument("--run", required=True)
    p = sub.add_parser("passthrough")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--hops", type=int, default=1)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_RATE", 1000)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 20)))
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of probes discarded at the start")
    parser.add_argument("--persons", type=int, default=int(os.environ.get("BENCH_PERSONS", 2000)))
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--drain", type=float, default=10.0, help="seconds without a new decision to give up")
    parser.add_argument("--only", choices=("kafka-1-hop", "kafka-3-hops", "tastemaker"), action="append")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 16067)))
    parser.add_argument("--sweep", default=os.environ.get("BENCH_SWEEP", "250,500,750"), metavar="RATES",
                        help="then Tastemaker alone at each of these rates (events/s, comma-separated; '' for "
                             "none): the highest rate held with a median p99 under 100 ms is reported")
    args = parser.parse_args()
    if args.mode == "produce":
        produce(args)
        return
    if args.mode == "passthrough":
        asyncio.run(passthrough(args))
        return

    run_dir = REPO / ".run/bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    broker, started_kafka = start_kafka()
    names = args.only or ["kafka-1-hop", "kafka-3-hops", "tastemaker"]
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "args": {k: v for k, v in vars(args).items() if k != "mode"}, "rules": len(RULES),
               "servers": {name: [] for name in names}}
    try:
        for i in range(args.runs):
            say(f"repetition {i + 1}/{args.runs}")
            for name in names:  # in turn, so noise from other work on the machine is spread over all
                results["servers"][name].append(repetition(name, args, broker, run_dir))
        rates = [float(rate) for rate in args.sweep.split(",") if rate.strip()] if "tastemaker" in names else []
        for rate in rates:
            say(f"sweep: {rate:g} events/s, {args.runs} runs")
            swept = argparse.Namespace(**{**vars(args), "rate": rate})
            results.setdefault("sweep", {})[rate] = [repetition("tastemaker", swept, broker, run_dir)
                                                     for _ in range(args.runs)]
    finally:
        if started_kafka:
            stop_kafka()
    keys = ("p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "in_worker_p50_ms", "in_worker_p99_ms",
            "out_p50_ms", "out_p99_ms", "cpu_us_per_event", "missing")
    results["medians"] = {name: {k: median_of(reps, k) for k in keys} for name, reps in results["servers"].items()}
    results["medians_sweep"] = {rate: {k: median_of(reps, k) for k in keys}
                                for rate, reps in results.get("sweep", {}).items()}
    out_dir = REPO / "bench/results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"decisions-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))

    medians = results["medians"]
    one, three = (medians.get(n, {}).get("p99_ms") for n in ("kafka-1-hop", "kafka-3-hops"))
    print(f"\nmedians of {args.runs} runs; {args.rate:g} probe events/s open loop for {args.seconds:g} s "
          f"(first {args.warmup:g} s discarded) over {args.persons:,} persons; {len(RULES)} rules; "
          f"{args.partitions} partitions; {os.cpu_count()} CPUs")
    print(f"{'server':<13} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99 vs 1-hop':>13} {'p99 vs 3-hops':>14} "
          f"{'in-worker p50/p99':>18} {'CPU us/ev':>10} {'missing':>8}")
    for name, m in medians.items():
        r1 = f"{m['p99_ms'] / one:.2f}" if one and m["p99_ms"] else "-"
        r3 = f"{m['p99_ms'] / three:.2f}" if three and m["p99_ms"] else "-"
        inside = f"{m['in_worker_p50_ms']}/{m['in_worker_p99_ms']}" if m["in_worker_p50_ms"] is not None else "-"
        print(f"{name:<13} {m['p50_ms']:>8} {m['p99_ms']:>8} {m['max_ms']:>8} {r1:>13} {r3:>14} {inside:>18} "
              f"{m['cpu_us_per_event']:>10} {m['missing']:>8}")
    if "tastemaker" in medians and medians["tastemaker"]["p99_ms"] is not None:
        p99 = medians["tastemaker"]["p99_ms"]
        print(f"goal p99 < 50 ms at {args.rate:g}/s: {'met' if p99 < 50 else 'NOT met'} ({p99} ms)")
    if "sweep" in results:
        held = _sweep_table(results, args.rate)
        print(f"highest rate held with p99 < 100 ms: {f'{held:g} events/s' if held else 'none of those measured'}")
    print(f"results: {out.relative_to(REPO)}")


def _sweep_table(results: dict, main_rate: float) -> float | None:
    """Prints Tastemaker's medians per rate (the sweep's and the main run's); returns the highest rate whose
    median p99 is under 100 ms with no probe missing."""
    by_rate = {rate: results["medians_sweep"][rate] for rate in results["medians_sweep"]}
    by_rate[main_rate] = results["medians"]["tastemaker"]
    print(f"\n{'events/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'CPU us/ev':>10} {'missing':>8}")
    held = None
    for rate in sorted(by_rate):
        m = by_rate[rate]
        print(f"{rate:>9g} {m['p50_ms']:>9} {m['p99_ms']:>9} {m['cpu_us_per_event']:>10} {m['missing']:>8}")
        if m["p99_ms"] is not None and m["p99_ms"] < 100 and not m["missing"]:
            held = rate
    return held


if __name__ == "__main__":
    main()
