"""One training run: held-out comparison with the serving model and popularity, and the promotion decision."""

from __future__ import annotations

import random

from tastemaker.recommend import training
from tastemaker.recommend.config import ModelConfig, RecommendConfig
from tastemaker.recommend.model import ModelSnapshot
from tests.unit.recommend_data import CATEGORIES, NOW, catalog

FAST = RecommendConfig(model=ModelConfig(epochs=10))


def history(seed: int = 3, scrambled: bool = False) -> list[dict]:
    """Interaction-history records (as the person stage writes them): each person views one category."""
    rng = random.Random(seed)
    events = []
    for c in CATEGORIES:
        for p in range(15):
            for k, n in enumerate(rng.sample(range(20), 6)):
                category = rng.choice(list(CATEGORIES)) if scrambled else c
                events.append({"person": f"{c}-fan-{p}", "event_id": f"{c}-{p}-{k}-{seed}", "type": "track",
                               "name": "Product Viewed", "item_ids": [f"{category}-{n}"],
                               "event_time": NOW + p * 60 + k, "device_type": "mobile"})
    return events


def test_a_first_model_is_promoted_and_beats_popularity_on_held_out_items():
    report = training.run(history(), catalog(), None, FAST, now=NOW)
    assert report.promote and report.snapshot is not None and report.serving_metrics is None
    assert report.holdout == 45 and report.persons == 45
    assert report.metrics["hit_rate_at_10"] > report.popularity_metrics["hit_rate_at_10"]
    assert report.snapshot.metrics == report.metrics
    assert report.snapshot.trained_from == NOW and report.snapshot.trained_to <= NOW + 14 * 60 + 5


def test_a_model_worse_than_the_serving_one_is_not_promoted():
    serving = training.run(history(), catalog(), None, FAST, now=NOW).snapshot
    # A candidate that barely trained (one epoch at a tiny learning rate), measured on the same held-out
    # items as the serving model.
    barely = RecommendConfig(model=ModelConfig(epochs=1, learning_rate=0.0001))
    worse = training.run(history(), catalog(), serving, barely, now=NOW)
    assert worse.metrics["hit_rate_at_10"] < worse.serving_metrics["hit_rate_at_10"] * 0.9
    assert not worse.promote and "below serving" in worse.why
    # The same candidate against no serving model would be promoted: the comparison is what refused it.
    assert training.run(history(), catalog(), None, barely, now=NOW).promote


def test_nothing_to_train_on_is_reported_not_promoted():
    report = training.run([{"person": "p", "type": "page", "event_time": NOW}], catalog(), None, FAST)
    assert report.snapshot is None and not report.promote and "no interactions" in report.why



def test_each_model_carries_popular_items_overall_and_per_context():
    events = history()
    for event in events:  # garden fans browse on mobile, the others on desktop
        event["device_type"] = "mobile" if event["person"].startswith("garden") else "desktop"
    snapshot = training.run(events, catalog(), None, FAST, now=NOW).snapshot
    assert set(snapshot.popular) >= {"", "device:mobile", "device:desktop"}
    assert all(item.startswith("garden-") for item, _ in snapshot.popular["device:mobile"])
    assert {item.split("-")[0] for item, _ in snapshot.popular[""]} == set(CATEGORIES)
    assert ModelSnapshot.from_bytes(snapshot.to_bytes()).popular == snapshot.popular
