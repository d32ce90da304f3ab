"""Micro-benchmark of tastemaker.profile (not a test): microseconds per apply_event, merge, public_view and
refresh_intent, and the JSON size of a typical and of a heavy profile.

    /work/main/.venv/bin/python bench/profile_micro.py [--events 10000] [--seed 1]

Events are full normalized events (models/event.py fields) of simulated visits: pages with a page type,
Product Viewed, engagement heartbeats, cart adds and removals, checkouts, orders, identify calls; a catalogue
of 2,000 items in 40 categories, 25 brands and 60 tags. "typical" is the profile after the first 200 events,
"heavy" after all of them. Intent reads the person's open session (tastemaker/sessions.py), folded from the
same events outside the timings (sessions.apply's own cost is printed apart).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tastemaker import profile, sessions  # noqa: E402


def catalogue(rng: random.Random) -> list[dict]:
    return [{"id": f"sku-{i:05d}", "category": f"category-{i % 40}", "brand": f"brand-{i % 25}",
             "tags": [f"tag-{(i * 7 + j) % 60}" for j in range(rng.randint(0, 4))], "price": round(rng.uniform(5, 200), 2)}
            for i in range(2000)]


def base(rng: random.Random, t: float, kind: str, name: str | None) -> dict:
    return {"event_id": f"m-{rng.getrandbits(64):x}", "source": "web", "topic": "clickstream", "type": kind, "name": name,
            "key": "anon-1", "anonymous_id": "anon-1", "user_id": None, "event_time": t, "received_at": t + 0.2,
            "item_ids": [], "campaign": {}, "geo": {}, "traits": {}, "clamped": [], "page_url": None, "page_path": None,
            "page_referrer": None, "page_title": None, "category": None, "price": None, "quantity": None,
            "revenue": None, "dwell_ms": None, "scroll_depth": None, "page_view_id": None,
            "device_type": rng.choice(["mobile", "desktop"]), "locale": "fr-FR", "ip": "10.1.2.0", "previous_id": None,
            "group_id": None, "is_bot": False, "bot_reason": None, "person": "anon-1", "page_type": None, "brand": None,
            "tags": []}


def visits(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    items = catalogue(rng)
    events: list[dict] = []
    t = 1_790_000_000.0
    while len(events) < n:
        t += rng.uniform(3600, 3 * 86400)  # next visit
        for _ in range(rng.randint(3, 12)):  # pages of the visit
            t += rng.uniform(5, 90)
            page_type = rng.choices(["product", "category", "article", "home", "search", "cart"], [5, 3, 2, 1, 1, 1])[0]
            item = rng.choice(items)
            page = base(rng, t, "page", None)
            page.update(page_type=page_type, page_path=f"/{page_type}/{item['id']}",
                        page_referrer=rng.choice([None, "https://www.google.com/"]),
                        campaign=rng.choice([{}, {"source": "newsletter", "medium": "email", "name": "spring"}]))
            if page_type == "product":
                page.update(item_ids=[item["id"]], category=item["category"], brand=item["brand"], tags=item["tags"])
            events.append(page)
            if page_type == "product":
                viewed = base(rng, t + 0.5, "track", "Product Viewed")
                viewed.update(item_ids=[item["id"]], category=item["category"], brand=item["brand"], price=item["price"])
                events.append(viewed)
            dwell = 0
            for beat in range(rng.randint(0, 4)):  # heartbeats every 15 s while visible
                dwell += 15000
                engaged = base(rng, t + 15 * (beat + 1), "track", "Page Engaged")
                engaged.update(page_view_id=page["event_id"], dwell_ms=dwell, scroll_depth=min(100, 25 * (beat + 1)))
                events.append(engaged)
            if page_type == "product" and rng.random() < 0.25:
                added = base(rng, t + 20, "track", "Product Added")
                added.update(item_ids=[item["id"]], category=item["category"], price=item["price"], quantity=1)
                events.append(added)
            if page_type == "cart" and rng.random() < 0.2:
                removed = base(rng, t + 5, "track", "Product Removed")
                removed.update(item_ids=[item["id"]])
                events.append(removed)
            if page_type == "cart" and rng.random() < 0.4:
                for step, name in enumerate(["Checkout Started", "Checkout Step Viewed", "Payment Info Entered"]):
                    events.append(base(rng, t + 30 + 20 * step, "track", name))
                done = base(rng, t + 100, "track", "Order Completed")
                done.update(revenue=round(rng.uniform(20, 300), 2))
                events.append(done)
                t += 100
        if rng.random() < 0.1:
            who = base(rng, t + 1, "identify", None)
            who["traits"] = {"plan": rng.choice(["free", "pro"]), "name": "Ann Example", "email": "ann@example.com"}
            events.append(who)
    return events[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    events = visits(args.events, args.seed)

    runs, by_label = [], defaultdict(list)
    for _ in range(args.repeat):
        state, typical = None, None
        started = time.perf_counter()
        for i, event in enumerate(events):
            state = profile.apply_event(state, event)
            if i == 199:
                typical = state
        runs.append((time.perf_counter() - started) / len(events) * 1e6)
    state = None
    for event in events:  # per label, one more pass
        t0 = time.perf_counter_ns()
        state = profile.apply_event(state, event)
        by_label[profile.event_label(event)].append((time.perf_counter_ns() - t0) / 1000)
    heavy = state
    person_sessions = None
    started = time.perf_counter()
    for event in events:
        person_sessions = sessions.apply(person_sessions, event).state
    sessions_us = (time.perf_counter() - started) / len(events) * 1e6
    session = person_sessions["current"]  # open: the last event was a moment ago

    def timed(fn, n=2000) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    now = heavy["last_seen"] + 600
    print(f"{len(events)} events, {args.repeat} passes")
    print(f"apply_event: best {min(runs):.1f}, median {statistics.median(runs):.1f} us/event "
          f"(passes: {', '.join(f'{r:.1f}' for r in runs)}; best is the steadier figure on a shared machine)")
    for label, times in sorted(by_label.items(), key=lambda kv: -len(kv[1])):
        print(f"  {label:<22} n={len(times):<5} median {statistics.median(times):6.1f} us")
    print(f"sessions.apply (not part of the profile): {sessions_us:.1f} us/event")
    print(f"merge(heavy, typical): {timed(lambda: profile.merge(heavy, typical)):.1f} us")
    print(f"public_view(heavy, session): {timed(lambda: profile.public_view(heavy, now, session)):.1f} us")
    print(f"refresh_intent(heavy, session): {timed(lambda: profile.refresh_intent(heavy, now, session)):.1f} us")
    print(f"orjson.dumps(heavy): {timed(lambda: orjson.dumps(heavy)):.1f} us")
    for name, value in (("typical (200 events)", typical), (f"heavy ({len(events)} events)", heavy)):
        view = profile.public_view(value, now, session)
        print(f"JSON {name}: {len(orjson.dumps(value))} bytes (json.dumps compact: "
              f"{len(json.dumps(value, separators=(',', ':')))}; public_view: {len(orjson.dumps(view))})")
    sizes = {k: len(orjson.dumps(v)) for k, v in heavy.items()}
    print("heavy by field:", ", ".join(f"{k} {v}" for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
