"""The baseline the collector is compared with: the same HTTP stack doing the least a collector must do.

    python bench/baseline_server.py PORT                         # parse the JSON body, answer 200
    python bench/baseline_server.py PORT --kafka HOST:PORT --topic T  # ... and produce each message, raw, to T

A plain aiohttp server (the library Faust's web server runs on) in one process, like one worker. It reads
the body, parses it with orjson and answers Segment's ``{"success": true, "accepted": n}``: no write-key
check, no validation, no enrichment. With ``--kafka`` it also sends every message as its own record with a
bare aiokafka producer configured like the worker's (acks from all replicas) and answers after the acks:
the ceiling of "HTTP in, Kafka out" in one Python process on this machine.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer


async def serve(args) -> None:
    producer = None
    if args.kafka:
        producer = AIOKafkaProducer(bootstrap_servers=args.kafka, acks="all", linger_ms=args.linger_ms)
        await producer.start()

    async def collect(request: web.Request, single: bool) -> web.Response:
        body = orjson.loads(await request.read())
        messages = [body] if single else body["batch"]
        if producer is not None:
            sends = [await producer.send(args.topic, orjson.dumps(m), key=str(m.get("userId")).encode())
                     for m in messages]
            await asyncio.gather(*sends)
        return web.Response(body=orjson.dumps({"success": True, "accepted": len(messages)}),
                            content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/batch", lambda r: collect(r, False))
    app.router.add_post("/v1/track", lambda r: collect(r, True))
    app.router.add_get("/health", lambda r: web.Response(text="ok"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        if producer is not None:
            await producer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--kafka", help="bootstrap server host:port: also produce each message to --topic")
    parser.add_argument("--topic", default="bench.raw")
    parser.add_argument("--linger-ms", type=int, default=0)
    asyncio.run(serve(parser.parse_args()))
