"""``make bench-recommend``: /recommendations latency and throughput on one worker, and freshness.

1. Kafka as in ``make bench`` (bench/common.py); a fresh app id per repetition.
2. World: ``--items`` catalog items in 50 categories (items topic), ``--persons`` known persons (their
   profile states written to the ``profiles`` table's changelog, which the worker recovers at start, as a
   restarted worker does: 2,000 distinct states built by the real person stage from views of one favourite
   category each, cloned under the other ids), and a LightFM model trained here on 20,000 persons' views and
   published to the models topic.
3. ``faust -A app worker`` (``TASTEMAKER_ROLES=stream``) starts and recovers, gets 10 s of requests at half
   the rate to warm up (not measured); then, from a second process
   (bench/get_load.py): open-loop latency at ``--rate`` requests/s of ``GET /recommendations/{random known
   person}?limit=10`` and, as the baseline measured in the same run, of ``GET /items/{id}`` (the same worker's
   HTTP stack and a dict lookup); closed-loop requests/s of both (16 connections).
4. Freshness: ``--probes`` times, a known person's view of an item is produced to ``clickstream`` and the
   recommendations are polled (every 2 ms) until ``as_of`` says the list was computed from a profile holding
   that event; time from the produce call to that answer.

Prints medians over ``--runs`` repetitions; writes every run to ``bench/results/recommend-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer

from common import (BENCH_TOKEN, FAUST, PYTHON, REPO, authorized, bootstrap_of, delete_topics_of, say, start_kafka,
                    stop, stop_kafka, wait_healthy, worker_env)

sys.path.insert(0, str(REPO))
from tastemaker import person as persons  # noqa: E402
from tastemaker.delivery import SourcePosition  # noqa: E402
from tastemaker.recommend.config import ModelConfig  # noqa: E402
from tastemaker.recommend.interactions import Interaction  # noqa: E402
from tastemaker.recommend.model import train  # noqa: E402

CATEGORIES = [f"cat-{n}" for n in range(50)]
TEMPLATES = 2_000
TRAINING_PERSONS = 20_000


def catalog(count: int, rng: random.Random) -> list[dict]:
    return [{"item_id": f"sku-{n}", "title": f"Item {n}", "categories": [CATEGORIES[n % 50]],
             "brand": f"brand-{n % 40}", "tags": [f"tag-{rng.randrange(100)}"], "price": round(rng.uniform(5, 300), 2)}
            for n in range(count)]


def by_category(items: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in items:
        found.setdefault(item["categories"][0], []).append(item["item_id"])
    return found


def person_states(count: int, items: list[dict], rng: random.Random, now: float) -> dict[str, bytes]:
    """``count`` persons' stored states: TEMPLATES built by the person stage, cloned under the other ids."""
    groups = by_category(items)
    templates = []
    for t in range(TEMPLATES):
        person, state = f"template-{t}", None
        favourite = rng.choice(CATEGORIES)
        for k in range(rng.randint(3, 8)):
            item_id = rng.choice(groups[favourite]) if rng.random() < 0.8 else rng.choice(items)["item_id"]
            # Minutes ago: sessions still open for the whole run, so no idle-session ticks are due (a worker
            # restarted after an hour would first close every stale session: a backlog, not serving).
            at = now - 600 + k * 30
            event = {"type": "track", "name": "Product Viewed", "event_id": f"{person}-{k}", "event_time": at,
                     "received_at": at, "item_ids": [item_id], "category": favourite, "key": person,
                     "device_type": rng.choice(["mobile", "desktop"])}
            source = SourcePosition("clickstream", 0, k, person)
            state = persons.on_event(state, person, event, source, source, 25).state
        templates.append(state)
    return {f"p-{n}": orjson.dumps({**templates[n % TEMPLATES], "ids": [f"p-{n}"], "applied": {}})
            for n in range(count)}


def model_bytes(items: list[dict], rng: random.Random, now: float, epochs: int) -> bytes:
    groups = by_category(items)
    pairs = {}
    for n in range(TRAINING_PERSONS):
        favourite = rng.choice(CATEGORIES)
        for k in range(8):
            item_id = rng.choice(groups[favourite]) if rng.random() < 0.8 else rng.choice(items)["item_id"]
            pairs[(f"t-{n}", item_id)] = Interaction(f"t-{n}", item_id, 1.0, now - 7200 + k)
    config = ModelConfig(epochs=epochs)
    return train(list(pairs.values()), items, None, config).to_bytes()


async def preload(bootstrap: str, app_id: str, items: list[dict], states: dict[str, bytes], model: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024,
                                max_request_size=64 * 1024 * 1024)
    await producer.start()
    try:
        sends = [await producer.send(f"{app_id}.items", orjson.dumps(item), key=item["item_id"].encode())
                 for item in items]
        sends += [await producer.send(f"{app_id}-profiles-changelog", value, key=key.encode())
                  for key, value in states.items()]
        sends.append(await producer.send(f"{app_id}-models", model, key=b"serving"))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def load(url: str, mode: str, paths_file, **options) -> dict:
    cmd = [PYTHON, str(REPO / "bench/get_load.py"), url, mode, "--paths", str(paths_file), "--token", BENCH_TOKEN]
    for name, value in options.items():
        cmd += [f"--{name}", str(value)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def freshness(bootstrap: str, app_id: str, url: str, items: list[dict], persons_count: int, probes: int,
                    rng: random.Random) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
    await producer.start()
    latencies = []
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {BENCH_TOKEN}"}) as http:
            for _ in range(probes):
                person, item = f"p-{rng.randrange(persons_count)}", rng.choice(items)
                at = time.time()
                message = {"type": "track", "event": "Product Viewed", "anonymousId": person,
                           "messageId": uuid.uuid4().hex, "timestamp": iso(at),
                           "properties": {"product_id": item["item_id"], "category": item["categories"][0]}}
                started = time.perf_counter()
                await producer.send(f"{app_id}.clickstream", orjson.dumps(message), key=person.encode())
                while True:
                    async with http.get(f"{url}/recommendations/{person}?limit=10") as response:
                        body = orjson.loads(await response.read())
                    if (body.get("as_of") or 0) >= at - 0.001:
                        latencies.append(time.perf_counter() - started)
                        break
                    if time.perf_counter() - started > 10:
                        latencies.append(float("inf"))
                        break
                    await asyncio.sleep(0.002)
                await asyncio.sleep(0.05)
    finally:
        await producer.stop()
    return latencies


def ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


def repetition(args, broker: str, run_dir, rng: random.Random) -> dict:
    bootstrap = bootstrap_of(broker)
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    now = time.time()
    say("  building the world (catalog, person states, model)")
    items = catalog(args.items, rng)
    states = person_states(args.persons, items, rng, now)
    trained_at = time.perf_counter()
    model = model_bytes(items, rng, now, args.epochs)
    say(f"  model trained in {time.perf_counter() - trained_at:.1f} s ({len(model) / 1e6:.1f} MB)")
    env = worker_env(broker, app_id, args.port, run_dir / "data", TASTEMAKER_ROLES="stream",
                     TASTEMAKER_TRAIN_EVERY="0", TASTEMAKER_PARTITIONS="8")
    subprocess.run([FAUST, "-A", "app", "create-topics"], cwd=REPO, env=env, check=True, capture_output=True)
    asyncio.run(preload(bootstrap, app_id, items, states, model))
    url = f"http://127.0.0.1:{args.port}"
    with open(run_dir / "recommend-worker.log", "ab") as log:
        worker = subprocess.Popen([FAUST, "-A", "app", "worker", "-l", "info"], cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        wait_healthy(url, worker, timeout=600)
        say(f"  worker healthy (tables recovered) in {time.monotonic() - started:.0f} s")
        with urllib_get(f"{url}/recommendations/p-1") as body:
            if not body.get("model_version"):
                raise SystemExit("the worker serves no model")
        paths = run_dir / "recommend-paths.txt"
        paths.write_text("\n".join(f"/recommendations/p-{rng.randrange(args.persons)}?limit=10" for _ in range(20_000)))
        item_paths = run_dir / "item-paths.txt"
        item_paths.write_text("\n".join(f"/items/{rng.choice(items)['item_id']}" for _ in range(20_000)))
        # Warm-up, not measured: the timer index scan after assignment, and each item's neighbour list
        # (cached per catalog and model version) computed once, as on a worker that has been serving.
        load(url, "latency", paths, rate=args.rate / 2, seconds=10)
        result = {
            "items_latency": load(url, "latency", item_paths, rate=args.rate, seconds=args.seconds),
            "recommend_latency_half_rate": load(url, "latency", paths, rate=args.rate / 2, seconds=args.seconds),
            "recommend_latency": load(url, "latency", paths, rate=args.rate, seconds=args.seconds),
            "items_throughput": load(url, "throughput", item_paths, seconds=10, concurrency=16),
            "recommend_throughput": load(url, "throughput", paths, seconds=10, concurrency=16),
        }
        fresh = asyncio.run(freshness(bootstrap, app_id, url, items, args.persons, args.probes, rng))
        result["freshness"] = {"probes": len(fresh), "p50_ms": ms(fresh, 0.5), "p99_ms": ms(fresh, 0.99)}
        for name, r in result.items():
            say(f"  {name:<22} {json.dumps(r)}")
        return result
    finally:
        stop(worker)
        delete_topics_of(bootstrap, app_id)


class urllib_get:
    def __init__(self, url: str) -> None:
        import urllib.request

        self.answer = urllib.request.urlopen(authorized(url), timeout=10)

    def __enter__(self) -> dict:
        return json.loads(self.answer.read())

    def __exit__(self, *exc) -> None:
        self.answer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_RATE", 500)))
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 16068)))
    args = parser.parse_args()
    run_dir = REPO / ".run/bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    broker, started_kafka = start_kafka()
    rng = random.Random(11)
    runs = []
    try:
        for i in range(args.runs):
            say(f"repetition {i + 1}/{args.runs}")
            runs.append(repetition(args, broker, run_dir, rng))
    finally:
        if started_kafka:
            stop_kafka()

    def median(path: str, field: str) -> float:
        return statistics.median(r[path][field] for r in runs)

    out_dir = REPO / "bench/results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"recommend-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "runs": runs}, indent=2))
    base = median("items_latency", "p99_ms")
    print(f"\nmedians of {args.runs} runs; {args.items:,} items, {args.persons:,} known persons, one worker, "
          f"{os.cpu_count()} CPUs shared with the load generator and the broker")
    print(f"{'endpoint':<34} {'p50 ms':>8} {'p99 ms':>8} {'p99 vs items':>13} {'req/s (16 conns)':>17}")
    for name, label in (("items", "GET /items/{id} (baseline)"), ("recommend", "GET /recommendations/{id}")):
        p99 = median(f"{name}_latency", "p99_ms")
        print(f"{label:<34} {median(f'{name}_latency', 'p50_ms'):>8} {p99:>8} {p99 / base if base else 0:>13.2f} "
              f"{median(f'{name}_throughput', 'requests_per_s'):>17,.0f}")
    print(f"{'GET /recommendations/{id} at ' + format(args.rate / 2, 'g') + '/s':<34} "
          f"{median('recommend_latency_half_rate', 'p50_ms'):>8} {median('recommend_latency_half_rate', 'p99_ms'):>8}")
    print(f"at {args.rate:g} requests/s open loop unless said; errors: "
          f"{sum(r['recommend_latency']['errors'] + r['recommend_throughput']['errors'] for r in runs)}")
    print(f"freshness (produce -> a list computed with that event), {args.probes} probes: "
          f"p50 {median('freshness', 'p50_ms')} ms, p99 {median('freshness', 'p99_ms')} ms")
    print(f"goals: p99 < 15 ms at 500/s: {'met' if median('recommend_latency', 'p99_ms') < 15 else 'NOT met'}; "
          f"freshness p99 < 100 ms: {'met' if median('freshness', 'p99_ms') < 100 else 'NOT met'}")
    print(f"results: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
