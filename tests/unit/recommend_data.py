"""A small catalog with clear structure for the recommendation tests: three categories of 20 items, and
persons who each interact with one category only, so a model trained on them must separate the three."""

from __future__ import annotations

import random
from functools import lru_cache

from tastemaker.recommend.config import ModelConfig
from tastemaker.recommend.interactions import Interaction
from tastemaker.recommend.model import ModelSnapshot, train

CATEGORIES = {"books": ("paperback", "Penguin", 12.0), "garden": ("outdoor", "Gardena", 45.0),
              "shoes": ("leather", "Acme", 90.0)}
NOW = 1_800_000_000.0
DAY = 86400.0


def item(category: str, n: int, **extra) -> dict:
    tag, brand, price = CATEGORIES[category]
    return {"item_id": f"{category}-{n}", "title": f"{category.title()} {n}", "categories": [category],
            "tags": [tag], "brand": brand, "price": price + n % 3, "available": True,
            "created_at": NOW - 100 * DAY, "attributes": {}, **extra}


def catalog() -> list[dict]:
    return [item(c, n) for c in CATEGORIES for n in range(20)]


def training_interactions(seed: int = 7, persons_per_category: int = 20) -> list[Interaction]:
    rng = random.Random(seed)
    found = []
    for c in CATEGORIES:
        for p in range(persons_per_category):
            for n in rng.sample(range(20), 8):
                found.append(Interaction(f"{c}-fan-{p}", f"{c}-{n}", 1.0, NOW - 30 * DAY + p))
    return found


@lru_cache(maxsize=1)
def snapshot_bytes() -> bytes:
    config = ModelConfig(components=8, epochs=30, num_threads=1, seed=3)
    return train(training_interactions(), catalog(), config=config, now=NOW).to_bytes()


def snapshot() -> ModelSnapshot:
    return ModelSnapshot.from_bytes(snapshot_bytes())


def profile_viewing(*item_ids: str, at: float = NOW - 60, cart: tuple[str, ...] = (), purchased: tuple[str, ...] = ()) -> dict:
    """A profile (tastemaker/profile.py shape) that viewed ``item_ids``, the first the latest."""
    from tastemaker import profile as profiles
    p = profiles.empty()
    p["recently_viewed"] = [[i, at - n] for n, i in enumerate(item_ids)]
    p["cart"] = {"items": {i: [1, 10.0, i.split("-")[0], None, at] for i in cart}, "value": 10.0 * len(cart), "cleared_at": None}
    p["purchases"] = [{"at": at - 1000, "items": list(purchased), "revenue": 10.0}] if purchased else []
    return p


def popular_lists() -> dict:
    """Global popularity favours shoes; French visitors prefer garden."""
    shoes = [(f"shoes-{n}", 100.0 - n) for n in range(20)]
    garden = [(f"garden-{n}", 50.0 - n) for n in range(20)]
    books = [(f"books-{n}", 30.0 - n) for n in range(20)]
    return {"": shoes + garden + books, "locale:fr-fr": garden}

