"""Load generator for the collector, run as its own process against a running worker.

    python bench/collector_load.py URL --seconds 10 --batch 100 --concurrency 16 [--write-key KEY]

Posts ``/v1/batch`` requests of ``--batch`` events from ``--concurrency`` connections for ``--seconds`` and
prints one JSON line: accepted events/s and the request latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
import uuid

import aiohttp
import orjson


def batch_body(size: int, run: str, n: int) -> bytes:
    events = [
        {
            "type": "track",
            "event": "Product Viewed",
            "userId": f"u-{(n * size + i) % 5000}",
            "messageId": f"{run}-{n}-{i}",
            "timestamp": "2026-11-26T12:00:00.000Z",
            "properties": {"product_id": f"p-{i % 997}", "price": 19.99, "category": "shoes"},
            "context": {"page": {"path": "/p/1", "url": "https://shop.example/p/1"}, "userAgent": "Mozilla/5.0"},
        }
        for i in range(size)
    ]
    return orjson.dumps({"batch": events, "sentAt": "2026-11-26T12:00:00.100Z"})


async def main(args) -> None:
    auth = "Basic " + base64.b64encode(f"{args.write_key}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": auth}
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    accepted = 0
    errors = 0
    deadline = time.perf_counter() + args.seconds
    counter = iter(range(10**9))

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal accepted, errors
        while time.perf_counter() < deadline:
            body = batch_body(args.batch, run, next(counter))
            start = time.perf_counter()
            async with http.post(f"{args.url}/v1/batch", data=body, headers=headers) as response:
                answer = await response.json(content_type=None)
            latencies.append(time.perf_counter() - start)
            if response.status == 200:
                accepted += answer["accepted"]
            else:
                errors += 1

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(client(http) for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)  # noqa: E731
    print(orjson.dumps({
        "events_per_s": round(accepted / elapsed), "requests": len(latencies), "errors": errors,
        "p50_ms": pct(0.50), "p99_ms": pct(0.99),
    }).decode())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--write-key", default="bench-key")
    asyncio.run(main(parser.parse_args()))
