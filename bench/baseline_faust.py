"""The bare Faust baselines of the stream benchmarks: one agent that decodes each event and, selectably,
writes one table entry per event.

    python bench/baseline_faust.py worker -l info      (env: BASELINE_BROKER, BASELINE_APP_ID, BASELINE_TOPICS,
                                                        BASELINE_PORT, BASELINE_PARTITIONS, BASELINE_WRITES,
                                                        BASELINE_DATA_DIR, BASELINE_EXPECTED)

Same Faust, aiokafka, broker and partitions as Tastemaker's worker; no re-keying, no sends of its own.

- ``BASELINE_WRITES=0`` (the default; bench/pipeline.py's ``baseline-faust``): the agent only decodes each
  event. The ceiling of "Kafka in, Python per event" for one Faust process on this machine.
- ``BASELINE_WRITES=1`` (bench/peers.py's ``faust-table``): and counts the event in a per-person table
  (``counts``, keyed by the record's key: the person's ``anonymousId``, ``userId`` for logins) in a RocksDB
  store (rocksdict) with the per-partition limits of Tastemaker's tables (``SMALL_ROCKSDB``,
  tables/__init__.py): one table write, so one changelog record, per event. What the simplest stateful
  Faust agent costs.

Faust's data dir (the table's RocksDB databases) is ``BASELINE_DATA_DIR`` (default
``.run/bench/baseline-faust/<app id>``), never Faust's default ``<app id>-data`` in the working directory.
``GET /count`` reports its ``EventClock`` (bench/common.py): events seen, timed from the first to the
``BASELINE_EXPECTED``-th when that is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import faust
import orjson

from common import REPO, EventClock

APP_ID = os.environ["BASELINE_APP_ID"]
PARTITIONS = int(os.environ.get("BASELINE_PARTITIONS", "8"))
WRITES = int(os.environ.get("BASELINE_WRITES", "0"))
# Tastemaker's per-partition RocksDB limits (tables/__init__.py SMALL_ROCKSDB), copied: importing tables/
# declares Tastemaker's Faust app.
SMALL_ROCKSDB = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024 * 1024,
    "max_open_files": 256,
}

app = faust.App(
    APP_ID,
    broker=os.environ["BASELINE_BROKER"],
    store="rocksdb://" if WRITES else "memory://",
    datadir=os.environ.get("BASELINE_DATA_DIR") or str(REPO / ".run/bench/baseline-faust" / APP_ID),
    web_port=int(os.environ["BASELINE_PORT"]),
    topic_partitions=PARTITIONS,
    broker_session_timeout=6,
    broker_heartbeat_interval=0.6,
    consumer_auto_offset_reset="earliest",
)
inputs = app.topic(*os.environ["BASELINE_TOPICS"].split(","), key_type=bytes, value_serializer="raw")
clock = EventClock(int(os.environ.get("BASELINE_EXPECTED", "0")))
clock.extra["names"] = 0
if WRITES:
    counts = app.Table("counts", default=int, key_type=bytes, value_type=int, partitions=PARTITIONS,
                       options=SMALL_ROCKSDB, help="Person (record key) -> events seen.")

    @app.agent(inputs)
    async def count(stream):
        async for key, value in stream.items():
            clock.started()
            if orjson.loads(value).get("event"):
                clock.extra["names"] += 1
            counts[key] += 1
            clock.done()
else:
    @app.agent(inputs)
    async def decode(stream):
        async for value in stream:
            clock.started()
            if orjson.loads(value).get("event"):
                clock.extra["names"] += 1
            clock.done()


@app.page("/count")
async def progress(web, request):
    return web.json(clock.report())


@app.page("/health")
async def health(web, request):
    return web.json({"ok": True})


if __name__ == "__main__":
    Path(app.conf.datadir).mkdir(parents=True, exist_ok=True)  # Faust's own mkdir is not recursive
    app.main()
