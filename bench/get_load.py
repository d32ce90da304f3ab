"""Load generator for GET endpoints, run as its own process against a running worker.

    python bench/get_load.py URL latency --paths FILE --rate 500 --seconds 20
    python bench/get_load.py URL throughput --paths FILE --concurrency 16 --seconds 10

``--paths``: a file of request paths, one per line, used round robin (``/recommendations/p-123?limit=10``).
``--token``: sent as ``Authorization: Bearer`` with every request (person routes take a read or admin token).
``latency``: requests started on a fixed schedule (open loop), each timed from its scheduled start, so a slow
server is charged for the requests it delays (no coordinated omission). ``throughput``: closed loop.
Counts non-200 answers as errors. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
import orjson


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 2)


async def latency(http: aiohttp.ClientSession, url: str, paths: list[str], args) -> dict:
    total = int(args.seconds * args.rate)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.2

    async def one(n: int) -> None:
        nonlocal errors
        scheduled = start + n / args.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        async with http.get(url + paths[n % len(paths)]) as response:
            await response.read()
        if response.status != 200:
            errors += 1
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(n) for n in range(total)))
    return {"mode": "latency", "rate": args.rate, "requests": total, "errors": errors,
            "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99)}


async def throughput(http: aiohttp.ClientSession, url: str, paths: list[str], args) -> dict:
    done = errors = 0
    deadline = time.perf_counter() + args.seconds

    async def client(first: int) -> None:
        nonlocal done, errors
        n = first
        while time.perf_counter() < deadline:
            async with http.get(url + paths[n % len(paths)]) as response:
                await response.read()
            done += 1
            errors += response.status != 200
            n += args.concurrency

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(args.concurrency)))
    return {"mode": "throughput", "requests": done, "errors": errors,
            "requests_per_s": round(done / (time.perf_counter() - started))}


async def main(args) -> None:
    paths = [line.strip() for line in open(args.paths) if line.strip()]
    connector = aiohttp.TCPConnector(limit=args.concurrency if args.mode == "throughput" else 256)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        result = await (latency if args.mode == "latency" else throughput)(http, args.url, paths, args)
    print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("mode", choices=("latency", "throughput"))
    parser.add_argument("--paths", required=True)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--token", default=None)
    asyncio.run(main(parser.parse_args()))
