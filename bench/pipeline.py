"""``make bench-pipeline``: sustained events/s of the whole stream pipeline on one worker, next to a baseline.

1. Kafka as in ``make bench`` (bench/common.py).
2. Every repetition preloads the same generated events (``--events`` over ``--persons`` persons: page views,
   product views, heartbeats, carts, checkouts, orders, logins that merge devices) straight into fresh input
   topics, then starts, one at a time on the same port:
   ``baseline-faust`` (bench/baseline_faust.py: one Faust agent that only decodes each event) and
   ``pipeline``: ``faust -A app worker -l info`` with ``TASTEMAKER_ROLES=stream`` (ingest, identity, person:
   every stage, table and rule the worker runs).
3. Each is timed from its first processed event to its last (polling ``/count``, ``/stats/ingest``), so
   start-up and the consumer-group join are not charged; CPU time of the process per event as well.
4. The pipeline must account for every event: applied + bot + duplicate + dead-lettered == preloaded.

Prints medians and the ratio to the baseline; writes every run to ``bench/results/pipeline-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import time
import urllib.request
import uuid
from datetime import datetime, timezone

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common import (FAUST, PYTHON, REPO, bootstrap_of, cpu_seconds, say, start_kafka, stop, stop_kafka,
                    wait_healthy, worker_env)

INPUTS = ("clickstream", "purchase_events", "engagement_metrics", "identities")
START = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc).timestamp()


def generate(events: int, persons: int, seed: int = 7) -> list[tuple[str, str, dict]]:
    """(topic, key, Segment message): each person browses in sessions; some carts, orders and logins."""
    rng = random.Random(seed)
    clock = {p: START + rng.uniform(0, 3600) for p in range(persons)}
    out = []
    for n in range(events):
        p = rng.randrange(persons)
        clock[p] += rng.choice((5, 20, 60, 300, 2400))  # some gaps close sessions
        anon = f"anon-{p}"
        at = datetime.fromtimestamp(clock[p], timezone.utc).isoformat().replace("+00:00", "Z")
        item = f"sku-{rng.randrange(2000)}"
        roll = rng.random()
        base = {"anonymousId": anon, "messageId": f"m-{n}", "timestamp": at,
                "context": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36",
                            "page": {"path": f"/p/{item}"}}}
        if roll < 0.30:
            out.append(("clickstream", anon, {**base, "type": "page", "name": "Product",
                                              "properties": {"path": f"/p/{item}", "page_type": "product"}}))
        elif roll < 0.60:
            out.append(("clickstream", anon, {**base, "type": "track", "event": "Product Viewed", "properties": {
                "product_id": item, "category": f"cat-{hash(item) % 20}", "price": 19.5, "brand": "acme"}}))
        elif roll < 0.85:
            out.append(("engagement_metrics", anon, {**base, "type": "track", "event": "Page Engaged", "properties": {
                "page_view_id": f"pv-{n // 3}", "dwell_ms": rng.randrange(1000, 200000),
                "scroll_depth": rng.randrange(0, 100)}}))
        elif roll < 0.93:
            out.append(("purchase_events", anon, {**base, "type": "track", "event": "Product Added", "properties": {
                "product_id": item, "category": "cat-1", "price": 19.5, "quantity": 1}}))
        elif roll < 0.96:
            out.append(("purchase_events", anon, {**base, "type": "track", "event": "Checkout Started",
                                                  "properties": {"products": [{"product_id": item}]}}))
        elif roll < 0.98:
            out.append(("purchase_events", anon, {**base, "type": "track", "event": "Order Completed", "properties": {
                "order_id": f"o-{n}", "total": 19.5, "products": [{"product_id": item}]}}))
        else:  # a login: the device joins the user's person
            out.append(("identities", f"user-{p}", {**base, "type": "identify", "userId": f"user-{p}",
                                                     "traits": {"plan": "free"}}))
    return out


async def preload(bootstrap: str, prefix: str, events: list, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{prefix}{t}", partitions, 1) for t in INPUTS])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sends = [await producer.send(f"{prefix}{topic}", orjson.dumps(message), key=key.encode())
                 for topic, key, message in events]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def processed(name: str, url: str) -> int:
    if name == "baseline-faust":
        return get_json(f"{url}/count")["events"]
    outcomes = get_json(f"{url}/stats/ingest")["outcomes"]
    # Every input record ends in one of these (identify events are applied too).
    return sum(n for k, n in outcomes.items() if k == "applied" or k.startswith("bot:")) + outcomes.get(
        "duplicate", 0) + outcomes.get("dead_letter", 0)


def repetition(name: str, cmd: list[str], env: dict, total: int, url: str, log_path, timeout: float) -> dict:
    with open(log_path, "ab") as log:
        server = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_healthy(url, server)
        first = None
        cpu0 = cpu_seconds(server.pid)
        deadline = time.monotonic() + timeout
        done = 0
        while time.monotonic() < deadline:
            done = processed(name, url)
            now = time.perf_counter()
            if first is None and done > 0:
                first, first_done, cpu0 = now, done, cpu_seconds(server.pid)
            if done >= total:
                break
            time.sleep(0.05)
        cpu = cpu_seconds(server.pid) - cpu0
        elapsed = time.perf_counter() - first if first else float("nan")
    finally:
        stop(server)
    counted = done - (first_done if first else 0)
    result = {"processed": done, "expected": total, "seconds": round(elapsed, 2),
              "events_per_s": round(counted / elapsed) if first else 0,
              "cpu_us_per_event": round(cpu / max(counted, 1) * 1e6, 1)}
    say(f"  {name:<16} {result['events_per_s']:>7} events/s, {result['cpu_us_per_event']:>6} us CPU/event, "
        f"{done}/{total} processed in {result['seconds']} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 60_000)))
    parser.add_argument("--persons", type=int, default=int(os.environ.get("BENCH_PERSONS", 5_000)))
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 16066)))
    args = parser.parse_args()

    run_dir = REPO / ".run/bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    broker, started_kafka = start_kafka()
    bootstrap = bootstrap_of(broker)
    url = f"http://127.0.0.1:{args.port}"
    events = generate(args.events, args.persons)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "args": vars(args),
               "servers": {"baseline-faust": [], "pipeline": []}}
    try:
        for i in range(args.runs):
            say(f"repetition {i + 1}/{args.runs}")
            for name in results["servers"]:
                app_id = f"bench-{uuid.uuid4().hex[:8]}"
                asyncio.run(preload(bootstrap, f"{app_id}.", events, args.partitions))
                if name == "baseline-faust":
                    cmd = [PYTHON, str(REPO / "bench/baseline_faust.py"), "worker", "-l", "info"]
                    env = {**os.environ, "BASELINE_BROKER": broker, "BASELINE_APP_ID": app_id,
                           "BASELINE_PORT": str(args.port), "BASELINE_PARTITIONS": str(args.partitions),
                           "BASELINE_TOPICS": ",".join(f"{app_id}.{t}" for t in INPUTS)}
                else:
                    cmd = [FAUST, "-A", "app", "worker", "-l", "info"]
                    env = worker_env(broker, app_id, args.port, run_dir / "data", TASTEMAKER_ROLES="stream",
                                     TASTEMAKER_PARTITIONS=str(args.partitions))
                results["servers"][name].append(
                    repetition(name, cmd, env, len(events), url, run_dir / f"{name}.log", args.timeout))
    finally:
        if started_kafka:
            stop_kafka()
    medians = {name: {"events_per_s": statistics.median(r["events_per_s"] for r in reps),
                      "cpu_us_per_event": statistics.median(r["cpu_us_per_event"] for r in reps)}
               for name, reps in results["servers"].items()}
    results["medians"] = medians
    out_dir = REPO / "bench/results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    base = medians["baseline-faust"]["events_per_s"]
    print(f"\nmedians of {args.runs} runs; {args.events:,} preloaded events of {args.persons:,} persons; "
          f"{args.partitions} partitions; {os.cpu_count()} CPUs")
    print(f"{'server':<16} {'events/s':>10} {'vs baseline':>12} {'CPU us/event':>13}")
    for name, m in medians.items():
        print(f"{name:<16} {m['events_per_s']:>10,.0f} {m['events_per_s'] / base if base else 0:>12.3f} "
              f"{m['cpu_us_per_event']:>13}")
    complete = all(r["processed"] >= r["expected"] for r in results["servers"]["pipeline"])
    print(f"every event accounted for by the pipeline: {'yes' if complete else 'NO'}")
    print(f"results: {out.relative_to(REPO)}")
    if not complete:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
