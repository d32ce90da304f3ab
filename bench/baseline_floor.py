"""The floor of the peers benchmark (bench/peers.py): a plain aiokafka consumer that decodes each record.

    python bench/baseline_floor.py      (env: BASELINE_BROKER, BASELINE_APP_ID, BASELINE_TOPICS, BASELINE_PORT,
                                         BASELINE_EXPECTED)

One consumer in a consumer group of its own (``BASELINE_APP_ID``) reads the input topics from the start in
batches (``getmany``) and decodes every record's value with ``orjson.loads``: no state, no sends, no stream
framework. What "Kafka in, JSON decoded" costs per event in Python on this machine, below which no stream
processor here can go. ``GET /count`` reports its ``EventClock`` (bench/common.py): events decoded, timed
from the first batch to the ``BASELINE_EXPECTED``-th event.
"""

from __future__ import annotations

import asyncio
import os
import signal

import orjson
from aiokafka import AIOKafkaConsumer

from common import EventClock, bootstrap_of, serve_progress


async def consume(clock: EventClock) -> None:
    consumer = AIOKafkaConsumer(*os.environ["BASELINE_TOPICS"].split(","),
                                bootstrap_servers=bootstrap_of(os.environ["BASELINE_BROKER"]),
                                group_id=os.environ["BASELINE_APP_ID"], auto_offset_reset="earliest",
                                enable_auto_commit=True, session_timeout_ms=6000, heartbeat_interval_ms=600)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await consumer.start()
    names = 0
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                clock.started()
                for record in records:
                    if orjson.loads(record.value).get("event"):
                        names += 1
                clock.done(len(records))
            clock.extra["names"] = names
    finally:
        await consumer.stop()


def main() -> None:
    clock = EventClock(int(os.environ["BASELINE_EXPECTED"]))
    server = serve_progress(int(os.environ["BASELINE_PORT"]), clock)
    try:
        asyncio.run(consume(clock))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
