"""The baseline the stream pipeline is compared with: a Faust worker whose one agent only decodes each event.

    python bench/baseline_faust.py worker -l info      (env: BASELINE_BROKER, BASELINE_APP_ID, BASELINE_TOPICS,
                                                        BASELINE_PORT, BASELINE_PARTITIONS)

Same Faust, aiokafka, broker and partitions as Tastemaker's worker; no tables, no re-keying, no sends. Its
``GET /count`` says how many events the agent has seen: the ceiling of "Kafka in, Python per event" for one
Faust process on this machine.
"""

from __future__ import annotations

import os

import faust
import orjson

app = faust.App(
    os.environ["BASELINE_APP_ID"],
    broker=os.environ["BASELINE_BROKER"],
    store="memory://",
    web_port=int(os.environ["BASELINE_PORT"]),
    topic_partitions=int(os.environ.get("BASELINE_PARTITIONS", "8")),
    broker_session_timeout=6,
    broker_heartbeat_interval=0.6,
    consumer_auto_offset_reset="earliest",
)
inputs = app.topic(*os.environ["BASELINE_TOPICS"].split(","), key_type=bytes, value_serializer="raw")
seen = {"events": 0, "names": 0}


@app.agent(inputs)
async def decode(stream):
    async for value in stream:
        if orjson.loads(value).get("event"):
            seen["names"] += 1
        seen["events"] += 1


@app.page("/count")
async def count(web, request):
    return web.json(seen)


@app.page("/health")
async def health(web, request):
    return web.json({"ok": True})


if __name__ == "__main__":
    app.main()
