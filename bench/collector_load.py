"""Load generator for the collector, run as its own process against a running server.

    python bench/collector_load.py URL throughput --seconds 10 --batch 100 --concurrency 16 [--write-key KEY]
    python bench/collector_load.py URL latency --seconds 10 --rate 200 [--write-key KEY]

``throughput``: ``--concurrency`` connections each post ``/v1/batch`` bodies of ``--batch`` events back to
back (closed loop) for ``--seconds``; counts only the events a 200 answer says were accepted.
``latency``: single ``/v1/track`` calls started on a fixed schedule (``--rate`` per second, open loop), each
timed from its scheduled start, so a slow server is charged for the requests it delays (no coordinated
omission). Prints one JSON line.

Client: aiohttp, already a dependency, with keep-alive connections. Bodies are built before the clock starts,
so the client spends its CPU on HTTP only (the machine has 2 cores, shared with the server and the broker).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
import uuid

import aiohttp
import orjson

POOL = 64  # distinct bodies per process, reused round robin


def event(run: str, n: int, i: int) -> dict:
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": f"u-{(n * 100 + i) % 5000}",
        "messageId": f"{run}-{n}-{i}",
        "timestamp": "2026-11-26T12:00:00.000Z",
        "properties": {"product_id": f"p-{i % 997}", "price": 19.99, "category": "shoes"},
        "context": {"page": {"path": "/p/1", "url": "https://shop.example/p/1"}, "userAgent": "Mozilla/5.0"},
    }


def batch_body(size: int, run: str, n: int) -> bytes:
    return orjson.dumps({"batch": [event(run, n, i) for i in range(size)], "sentAt": "2026-11-26T12:00:00.100Z"})


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


async def throughput(http: aiohttp.ClientSession, args, url: str, run: str) -> dict:
    bodies = [batch_body(args.batch, run, n) for n in range(POOL)]
    accepted = requests = errors = 0
    deadline = time.perf_counter() + args.seconds

    async def client(first: int) -> None:
        nonlocal accepted, requests, errors
        n = first
        while time.perf_counter() < deadline:
            async with http.post(f"{url}/v1/batch", data=bodies[n % POOL]) as response:
                answer = await response.read()
            requests += 1
            n += args.concurrency
            if response.status == 200:
                accepted += orjson.loads(answer)["accepted"]
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    return {"events_per_s": round(accepted / elapsed), "accepted": accepted, "requests": requests, "errors": errors}


async def latency(http: aiohttp.ClientSession, args, url: str, run: str) -> dict:
    bodies = [orjson.dumps(event(run, n, 0)) for n in range(POOL)]
    total = int(args.seconds * args.rate)
    latencies: list[float] = []
    accepted = errors = 0

    async def call(scheduled: float, n: int) -> None:
        nonlocal accepted, errors
        try:
            async with http.post(f"{url}/v1/track", data=bodies[n % POOL]) as response:
                await response.read()
        except aiohttp.ClientError:
            errors += 1
            return
        latencies.append(time.perf_counter() - scheduled)
        if response.status == 200:
            accepted += 1
        else:
            errors += 1

    start = time.perf_counter() + 0.05
    tasks = []
    for n in range(total):
        scheduled = start + n / args.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(call(scheduled, n)))
    await asyncio.gather(*tasks)
    return {
        "rate": args.rate, "requests": total, "accepted": accepted, "errors": errors,
        "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
    }


async def main(args) -> None:
    auth = "Basic " + base64.b64encode(f"{args.write_key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    run = uuid.uuid4().hex[:8]
    # The open-loop test must not wait for a free connection: allow as many as requests may be in flight.
    limit = args.concurrency if args.mode == "throughput" else 1000
    connector = aiohttp.TCPConnector(limit=limit)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as http:
        measure = throughput if args.mode == "throughput" else latency
        print(orjson.dumps(await measure(http, args, args.url.rstrip("/"), run)).decode())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("mode", nargs="?", choices=("throughput", "latency"), default="throughput")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200, help="latency mode: requests per second")
    parser.add_argument("--write-key", default="bench-key")
    asyncio.run(main(parser.parse_args()))
