"""Micro-benchmark of tastemaker.windows (not a test): microseconds per apply / count / counts / merge, and
the size of the state as stored, for a typical person (50 events) and a heavy one (5,000 events).

    .venv/bin/python bench/windows_micro.py

Events of the heavy person come every ~2 minutes for 7 days over 2,000 items in 40 categories, so every
cap is reached; the typical person's 50 events spread over 3 days, over 20 items.
"""

from __future__ import annotations

import json
import random
import sys
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's tastemaker, not an installed one
from tastemaker import windows  # noqa: E402

T0 = 1_795_737_600.0
NAMES = ["Product Viewed"] * 6 + ["Product Clicked"] * 2 + ["Product Added", "Order Completed"]


def stream(n: int, span: float, items: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        t = T0 + span * i / n + rng.uniform(-60, 0)  # a little out of order, within the 5 min grace
        if rng.random() < 0.2:
            events.append({"type": "page", "name": "Home", "event_time": t, "item_ids": [], "category": None})
            continue
        ids = [f"sku-{rng.randrange(items):06d}" for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        events.append({"type": "track", "name": rng.choice(NAMES), "event_time": t, "item_ids": ids,
                       "category": f"category-{rng.randrange(40):02d}"})
    return events


def per_call_us(statement, number: int) -> float:
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e6


def measure(label: str, events: list[dict]) -> None:
    state = None
    build = timeit.default_timer()
    for e in events:
        state = windows.apply(state, e).state
    build = (timeit.default_timer() - build) / len(events) * 1e6
    last = max(e["event_time"] for e in events)
    nxt = {**events[-1], "event_time": last + 30.0}
    key = "event:Product Viewed"
    sizes = [len(t) for t in state["times"].values()]
    stored = orjson.dumps(state)
    print(f"{label}: {len(events)} events -> {len(sizes)} keys, {sum(sizes)} times, "
          f"saturated_since={windows.saturated_since(state)}")
    print(f"  apply, whole stream       {build:8.1f} us/event")
    print(f"  apply, one more event     {per_call_us(lambda: windows.apply(state, nxt), 2000):8.1f} us")
    print(f"  count (one key, window)   {per_call_us(lambda: windows.count(state, key, 3600, last), 20000):8.2f} us")
    print(f"  counts (display, 4 wins)  {per_call_us(lambda: windows.counts(state, last), 50):8.1f} us")
    print(f"  merge with itself         {per_call_us(lambda: windows.merge(state, state), 50):8.1f} us")
    print(f"  orjson dumps / loads      {per_call_us(lambda: orjson.dumps(state), 500):8.1f} / "
          f"{per_call_us(lambda: orjson.loads(stored), 500):.1f} us")
    print(f"  JSON size                 {len(stored):8,d} bytes (json.dumps: {len(json.dumps(state)):,} chars, "
          f"bound {windows.DEFAULT.max_json_chars:,})")


if __name__ == "__main__":
    measure("typical person", stream(50, 3 * 86400, 20, seed=1))
    measure("heavy person", stream(5_000, 7 * 86400, 2_000, seed=2))
