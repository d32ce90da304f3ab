"""Cost of one recommendation request and of loading a model snapshot, on a generated catalog.

    .venv/bin/python bench/recommend_micro.py      (BENCH_ITEMS, default 20,000 items; BENCH_RUNS, 300 requests)

A catalog of BENCH_ITEMS items in 200 categories, a model trained on generated sessions over it, and a
person with 10 viewed items and a cart item; each request runs the whole pipeline (fold-in, all sources,
filters, ranking, diversity, exploration). The catalog index (CatalogIndex) is built once, as a worker would per catalog
version. Baseline from the same run: the same request with no model (content and popularity only).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from recommend_quality import generate_sessions  # noqa: E402
from tastemaker import profile as profiles  # noqa: E402
from tastemaker.recommend.catalog_index import CatalogIndex  # noqa: E402
from tastemaker.recommend.config import ModelConfig  # noqa: E402
from tastemaker.recommend.interactions import Interaction  # noqa: E402
from tastemaker.recommend.model import ModelSnapshot, train  # noqa: E402
from tastemaker.recommend.pipeline import Request, recommend  # noqa: E402


def main() -> None:
    n_items = int(os.environ.get("BENCH_ITEMS", "20000"))
    runs = int(os.environ.get("BENCH_RUNS", "300"))
    per_category = n_items // 200
    items = [{"item_id": f"c{c}-i{i}", "title": f"item {c}/{i}", "categories": [f"cat{c}"], "tags": [f"t{i % 7}"],
              "brand": f"b{c % 30}", "price": 5.0 + i, "available": True, "created_at": 0.0, "attributes": {}}
             for c in range(200) for i in range(per_category)]
    sessions = generate_sessions(20000, 1, categories=200, per_category=per_category)
    interactions = [Interaction(f"s{n}", item, 1.0, at) for n, s in enumerate(sessions) for item, _, at in s]
    started = time.perf_counter()
    snapshot = train(interactions, items, config=ModelConfig())
    fit_s = time.perf_counter() - started
    data = snapshot.to_bytes()
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        ModelSnapshot.from_bytes(data)
        loads.append(time.perf_counter() - started)
    catalog = CatalogIndex(items)
    now = 1_800_000_000.0
    profile = profiles.empty()
    profile["recently_viewed"] = [[f"c7-i{i}", now - 60 * i] for i in range(10)]
    profile["cart"]["items"] = {"c9-i1": [1, 10.0, "cat9", None, now - 30]}
    person = {"profile": profile}
    popular = {"": [(item["item_id"], 100.0 - n) for n, item in enumerate(items[:: per_category][:100])]}
    trending = [(f"item:c{c}-i0", 10.0 - c / 100) for c in range(100)]

    def timed(model) -> list[float]:
        times = []
        for n in range(runs):
            started = time.perf_counter()
            recommend(person, model, catalog, trending, popular, Request(now=now + n))
            times.append(time.perf_counter() - started)
        return sorted(times)

    with_model, without = timed(snapshot), timed(None)
    print(f"catalog {len(items)} items, {len(interactions)} training interactions, fit {fit_s:.1f} s")
    print(f"snapshot {len(data) / 1e6:.1f} MB, load median {statistics.median(loads) * 1e3:.1f} ms")
    for name, times in (("pipeline with model", with_model), ("pipeline without model (baseline)", without)):
        print(f"{name}: median {statistics.median(times) * 1e3:.2f} ms, p99 {times[int(len(times) * 0.99) - 1] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
