"""The event streams the stream benchmarks preload (bench/pipeline.py, bench/peers.py): Segment messages, each
with the input topic it goes to and its Kafka key (the id it was sent under: ``anonymousId``, ``userId`` for
logins), in the order they are produced.

- ``default``: ``generate(events, persons)``: persons drawn uniformly, so every person sends about
  ``events / persons`` events (bench/pipeline.py's 60,000 of 5,000: ~12 each).
- ``longtail``: ``longtail(events, persons)``: Zipf-like activity, as a shop's traffic is: most persons send
  1-3 events, a few send hundreds (100,000 events of ~60,000 persons: ~94% with at most three, the busiest
  with ~200-300), in event-time order; items drawn Zipf-like too.

Both have the same mix of event kinds: page views, product views, page-engagement heartbeats, carts,
checkouts, orders and logins (``identify``, which link the device to the user's person). Both are
deterministic for a seed and a start time. Event times lie days before the run (``recent_start()``): the
ingest stage refuses an event more than 30 days older than its receive time (tastemaker/ingest/sanity.py).
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
import time
from datetime import datetime, timezone

# What generate() used before its start became a parameter (bench/person_micro.py replays against it).
START = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc).timestamp()
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"
GAPS = (5, 20, 60, 300, 2400)  # seconds between a person's events; 2,400 s closes a session (idle timeout)
WORKLOADS = ("default", "longtail")

Event = tuple[str, str, dict]  # (input topic, Kafka key, Segment message)


def recent_start(days: int = 7) -> float:
    """Midnight (UTC) ``days`` days ago: event times within the ingest stage's 30-day limit, the same all day."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today.timestamp() - days * 86400


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat().replace("+00:00", "Z")


def _message(rng: random.Random, n: int, p: int, at: float, item: str) -> Event:
    """Event number ``n`` of person ``p`` at ``at`` about ``item``: one of the kinds, by their share."""
    anon = f"anon-{p}"
    roll = rng.random()
    base = {"anonymousId": anon, "messageId": f"m-{n}", "timestamp": _iso(at),
            "context": {"userAgent": USER_AGENT, "page": {"path": f"/p/{item}"}}}
    if roll < 0.30:
        return ("clickstream", anon, {**base, "type": "page", "name": "Product",
                                      "properties": {"path": f"/p/{item}", "page_type": "product"}})
    if roll < 0.60:
        return ("clickstream", anon, {**base, "type": "track", "event": "Product Viewed", "properties": {
            "product_id": item, "category": f"cat-{int(item[4:]) % 20}", "price": 19.5, "brand": "acme"}})
    if roll < 0.85:
        return ("engagement_metrics", anon, {**base, "type": "track", "event": "Page Engaged", "properties": {
            "page_view_id": f"pv-{n // 3}", "dwell_ms": rng.randrange(1000, 200000),
            "scroll_depth": rng.randrange(0, 100)}})
    if roll < 0.93:
        return ("purchase_events", anon, {**base, "type": "track", "event": "Product Added", "properties": {
            "product_id": item, "category": "cat-1", "price": 19.5, "quantity": 1}})
    if roll < 0.96:
        return ("purchase_events", anon, {**base, "type": "track", "event": "Checkout Started",
                                          "properties": {"products": [{"product_id": item}]}})
    if roll < 0.98:
        return ("purchase_events", anon, {**base, "type": "track", "event": "Order Completed", "properties": {
            "order_id": f"o-{n}", "total": 19.5, "products": [{"product_id": item}]}})
    # a login: the device joins the user's person
    return ("identities", f"user-{p}", {**base, "type": "identify", "userId": f"user-{p}",
                                         "traits": {"plan": "free"}})


def generate(events: int, persons: int, seed: int = 7, start: float = START) -> list[Event]:
    """Each event from a person drawn uniformly, who browses in sessions; some carts, orders and logins."""
    rng = random.Random(seed)
    clock = {p: start + rng.uniform(0, 3600) for p in range(persons)}
    out = []
    for n in range(events):
        p = rng.randrange(persons)
        clock[p] += rng.choice(GAPS)  # some gaps close sessions
        out.append(_message(rng, n, p, clock[p], f"sku-{rng.randrange(2000)}"))
    return out


def longtail(events: int = 100_000, persons: int = 60_000, seed: int = 11, start: float = START,
             items: int = 5000) -> list[Event]:
    """``events`` events of ``persons`` persons (each sends at least one), in event-time order.

    Events per person: ``floor(X)`` for a Pareto X with shape 2 (P(n >= k) = 1/k**2: 75% send one event,
    ~94% at most three, one in ten thousand 100 or more), capped at 1,000, then evened out to exactly
    ``events`` (added where events already are, so the tail keeps its shape). Each person's first visit is
    within the day after ``start``, then gaps as in ``generate()``. Items: P(rank r) ~ 1/r over ``items``."""
    rng = random.Random(seed)
    counts = [min(1000, int(rng.paretovariate(2.0))) for _ in range(persons)]
    owners = [p for p, c in enumerate(counts) for _ in range(c)]  # one entry per event: who sends it
    while len(owners) < events:  # preferential: a busy person gets more
        p = rng.choice(owners)
        counts[p] += 1
        owners.append(p)
    total = len(owners)
    while total > events:  # trim from persons with more than one
        p = rng.randrange(persons)
        if counts[p] > 1:
            counts[p] -= 1
            total -= 1
    popularity = list(itertools.accumulate(1 / r for r in range(1, items + 1)))
    timeline = []  # (event time, person)
    for p, count in enumerate(counts):
        at = start + rng.uniform(0, 86400)
        for _ in range(count):
            timeline.append((at, p))
            at += rng.choice(GAPS)
    timeline.sort()
    out = []
    for n, (at, p) in enumerate(timeline):
        rank = bisect.bisect_left(popularity, rng.random() * popularity[-1])
        out.append(_message(rng, n, p, at, f"sku-{rank}"))
    return out


def workload(name: str, events: int | None = None, persons: int | None = None,
             start: float | None = None) -> list[Event]:
    """The named workload (``WORKLOADS``), with its default size where ``events``/``persons`` are None;
    event times from ``recent_start()`` unless ``start`` is given."""
    start = recent_start() if start is None else start
    if name == "default":
        return generate(events or 60_000, persons or 5_000, start=start)
    if name == "longtail":
        return longtail(events or 100_000, persons or 60_000, start=start)
    raise SystemExit(f"--workload {name!r}: one of {', '.join(WORKLOADS)}")


def add_workload_arguments(parser, default: str) -> None:
    """The options that choose the events a benchmark preloads: ``--workload`` (BENCH_WORKLOAD, else
    ``default``), ``--events`` (BENCH_EVENTS), ``--persons`` (BENCH_PERSONS), ``--partitions``."""
    parser.add_argument("--workload", choices=WORKLOADS, default=os.environ.get("BENCH_WORKLOAD", default))
    parser.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 0)) or None,
                        help="default: the workload's (default 60,000; longtail 100,000)")
    parser.add_argument("--persons", type=int, default=int(os.environ.get("BENCH_PERSONS", 0)) or None,
                        help="default: the workload's (default 5,000; longtail 60,000)")
    parser.add_argument("--partitions", type=int, default=8)


def describe(events: list[Event]) -> str:
    """How many events of how many keys, and how the busiest keys compare (for the benchmarks' headers)."""
    per_key: dict[str, int] = {}
    for _, key, _ in events:
        per_key[key] = per_key.get(key, 0) + 1
    counts = sorted(per_key.values())
    few = sum(1 for c in counts if c <= 3)
    return (f"{len(events):,} events of {len(counts):,} keys; {few / len(counts):.0%} with 1-3 events, "
            f"the busiest {counts[-1]}, median {counts[len(counts) // 2]}")


if __name__ == "__main__":  # a look at a workload: python bench/workloads.py [default|longtail]
    import sys

    began = time.perf_counter()
    chosen = workload(sys.argv[1] if len(sys.argv) > 1 else "longtail")
    print(describe(chosen), f"({time.perf_counter() - began:.1f} s to generate)")
