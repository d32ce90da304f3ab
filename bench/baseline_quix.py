"""The Quix Streams peer of the peers benchmark (bench/peers.py): per-person state and an exact sliding count.

    python bench/baseline_quix.py      (env: BASELINE_BROKER, BASELINE_APP_ID, BASELINE_TOPICS, BASELINE_PORT,
                                        BASELINE_EXPECTED, BASELINE_DATA_DIR)

One Quix Streams application (`quixstreams`, the bench optional dependencies of pyproject.toml) reads the input
topics from the start, merged into one StreamingDataFrame (``concat``: Quix aligns them by timestamp), each
record keyed as it was produced (the person's ``anonymousId``, or ``userId`` for logins), and for every event:

1. decodes it (Quix's JSON deserializer, orjson) and takes its event time from its ``timestamp``;
2. updates a dict per person in Quix's state (``stateful=True``: RocksDB, its changelog on): events counted,
   the latest kind;
3. counts the person's events of the last 10 minutes, exactly: Quix's sliding window
   (``sliding_window(10 min).count().current()``: every window the event falls in is updated).

State lives in RocksDB under ``BASELINE_DATA_DIR``, changelog topics are on (Quix's defaults otherwise:
at-least-once, a checkpoint every 5 s that writes a batch to RocksDB and flushes the changelog producer).
``GET /count`` reports its ``EventClock`` (bench/common.py), ticked after Quix finished each message
(``on_message_processed``), and ``late``: events the sliding window refused as too late (not counted
exactly), which must be 0.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from quixstreams import Application

from common import EventClock, bootstrap_of, serve_progress

WINDOW = timedelta(minutes=10)

clock = EventClock(int(os.environ["BASELINE_EXPECTED"]))
late: set[tuple[str, int, int]] = set()


def event_time(value, headers, timestamp, timestamp_type) -> int:
    """The event's own time (Segment's ``timestamp``), milliseconds: what the window slides over."""
    clock.started()
    return int(datetime.fromisoformat(value["timestamp"]).timestamp() * 1000)


def count_event(value, state) -> None:
    person = state.get("person") or {"events": 0}
    person["events"] += 1
    person["latest"] = value.get("event") or value.get("type")
    state.set("person", person)


def on_late(value, key, timestamp_ms, late_by_ms, start, end, name, topic, partition, offset) -> bool:
    late.add((topic, partition, offset))
    clock.extra["late"] = len(late)
    return True  # and Quix logs it (which window, by how much)


def processed(topic: str, partition: int, offset: int) -> None:
    clock.done()


def main() -> None:
    clock.extra["late"] = 0
    app = Application(broker_address=bootstrap_of(os.environ["BASELINE_BROKER"]),
                      consumer_group=os.environ["BASELINE_APP_ID"], auto_offset_reset="earliest",
                      state_dir=os.environ["BASELINE_DATA_DIR"], use_changelog_topics=True,
                      on_message_processed=processed, loglevel="INFO")
    topics = [app.topic(name, value_deserializer="json", key_deserializer="str", timestamp_extractor=event_time)
              for name in os.environ["BASELINE_TOPICS"].split(",")]
    sdf = app.dataframe(topics[0])
    for topic in topics[1:]:
        sdf = sdf.concat(app.dataframe(topic))
    sdf = sdf.update(count_event, stateful=True)
    sdf = sdf.sliding_window(duration_ms=WINDOW, on_late=on_late).count().current()
    server = serve_progress(int(os.environ["BASELINE_PORT"]), clock)
    try:
        app.run()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
