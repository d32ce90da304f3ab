"""Micro-benchmark of tastemaker.trending (not a test): microseconds per apply, per merge, and per top-N
over many keys.

    .venv/bin/python bench/trending_micro.py
"""

from __future__ import annotations

import random
import sys
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's tastemaker, not an installed one
from tastemaker import trending  # noqa: E402

T0 = 1_795_737_600.0


def per_call_us(statement, number: int) -> float:
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e6


if __name__ == "__main__":
    rng = random.Random(3)
    event = {"type": "track", "name": "Product Added", "event_time": T0, "item_ids": ["sku-1"], "category": "c"}
    state = trending.apply(None, event)
    print(f"apply (one key)            {per_call_us(lambda: trending.apply(state, event), 50_000):8.2f} us")
    print(f"merge (two partials)       {per_call_us(lambda: trending.merge(state, state), 50_000):8.2f} us")
    print(f"state JSON                 {len(orjson.dumps(state)):8d} bytes")
    for keys in (10_000, 100_000):
        states = {f"item:sku-{i}": trending.add(None, rng.expovariate(0.2), T0 - rng.uniform(0, 2 * 86400))
                  for i in range(keys)}
        us = per_call_us(lambda: trending.top(states.items(), T0, 20), 3)
        print(f"top 20 of {keys:>7,d} keys      {us / 1000:8.1f} ms ({us / keys:.2f} us/key)")
