"""Category, tag and brand affinities: exponentially decayed sums of signal weights, top N per dimension.

An affinity is ``sum(weight_i * 2 ** -((now - t_i) / half_life))`` over the signals ``i`` about a key (a
category, a tag, a brand). Each key stores that sum at a reference time, ``[score, t]``; a signal at
``at`` rescales the stored score to ``max(t, at)`` and adds its own weight rescaled to the same time, so an
update is O(1) and the result does not depend on the order signals arrive in (up to float rounding).

State (JSON)::

    {"category": {"shoes": [4.8123, 1795737720.7], ...},   key: [score at t, t (epoch seconds)]
     "tag": {...}, "brand": {...}}                         at most top_n keys per dimension

Trimming: exponential decay scales every key of a dimension by the same factor, so the ranking of keys
never changes with time alone; when a dimension holds more than ``top_n`` keys, the weakest (compared at
the latest reference time; equal scores: the alphabetically last key) is dropped. A dropped key that is
seen again starts over from its new signal (the sum is exact for the keys kept, lossy at the margin).

Negative weights (a removal from the cart, a refund) are kept as they are, so the sum stays order-
independent; a key whose sum is not positive reads as no affinity (``scores_at`` leaves it out).

Signals, by event (weights in ``AffinityConfig``)::

    view        page/screen views, Product Viewed, Product Clicked
    list_view   Product List Viewed, Product List Filtered, Products Searched
    long_dwell  once per page view, when its visible dwell reaches long_dwell_ms (engagement heartbeats),
                crediting that page view's keys (remembered in the profile's dwell_bonus, tastemaker/profile.py)
    wishlist    Product Added to Wishlist
    cart_add    Product Added              cart_remove   Product Removed
    purchase    Order Completed            refund        Order Refunded
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

DIMENSIONS = ("category", "tag", "brand")

Entry = list  # [score at t, t]
AffinityState = dict[str, dict[str, Entry]]

SIGNAL_OF_EVENT: Mapping[str, str] = {
    "Product Viewed": "view",
    "Product Clicked": "view",
    "Product List Viewed": "list_view",
    "Product List Filtered": "list_view",
    "Products Searched": "list_view",
    "Product Added to Wishlist": "wishlist",
    "Product Added": "cart_add",
    "Product Removed": "cart_remove",
    "Order Completed": "purchase",
    "Order Refunded": "refund",
}


@dataclass(frozen=True)
class AffinityConfig:
    half_life_s: float = 7 * 86400.0
    """Half-life of a signal, seconds (7 days): a signal counts half as much a week later."""
    top_n: int = 20
    """Keys kept per dimension (category, tag, brand)."""
    key_max_chars: int = 64
    """Longer category/tag/brand names are cut to this many characters."""
    tags_per_event: int = 10
    """Tags of one event taken into account (the first ones)."""
    view: float = 1.0
    """Weight of a page/screen view, Product Viewed, Product Clicked."""
    list_view: float = 0.5
    """Weight of a product list, filter or search (an interest in the category, weaker than one item)."""
    long_dwell: float = 1.0
    """Bonus once per page view whose visible dwell reaches ``long_dwell_ms``."""
    long_dwell_ms: int = 30_000
    """Visible dwell of a page view that earns the long-dwell bonus, milliseconds."""
    wishlist: float = 2.0
    """Weight of Product Added to Wishlist."""
    cart_add: float = 3.0
    """Weight of Product Added."""
    cart_remove: float = -1.0
    """Weight of Product Removed: takes back a third of the add (the interest was real, the item not right)."""
    purchase: float = 5.0
    """Weight of Order Completed, for each category/brand/tag of the order (its own, and its cart items')."""
    refund: float = -3.0
    """Weight of Order Refunded: most of the purchase taken back."""

    def weight(self, signal: str) -> float:
        return float(getattr(self, signal))


DEFAULT = AffinityConfig()


def empty() -> AffinityState:
    return {dimension: {} for dimension in DIMENSIONS}


def signal_of(event: Mapping[str, Any]) -> str | None:
    """The kind of signal an event is (see the table above), or None if it says nothing about affinities."""
    if event.get("type") in ("page", "screen"):
        return "view"
    return SIGNAL_OF_EVENT.get(event.get("name") or "") if event.get("type") == "track" else None


def keys_of(event: Mapping[str, Any], config: AffinityConfig = DEFAULT) -> dict[str, list[str]]:
    """The category, tags and brand an event is about (trimmed, cut to ``key_max_chars``; empty ones left out)."""
    keys: dict[str, list[str]] = {}
    for dimension, values in (
        ("category", [event.get("category")]),
        ("brand", [event.get("brand")]),
        ("tag", (event.get("tags") or [])[: config.tags_per_event]),
    ):
        cleaned = _clean(values, config.key_max_chars)
        if cleaned:
            keys[dimension] = cleaned
    return keys


def _clean(values: Iterable[Any], max_chars: int) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        if isinstance(value, str) and (value := value.strip()[:max_chars]) and value not in cleaned:
            cleaned.append(value)
    return cleaned


def add(
    state: Mapping[str, Mapping[str, Entry]] | None, keys: Mapping[str, Iterable[str]], weight: float, at: float,
    config: AffinityConfig = DEFAULT,
) -> AffinityState:
    """``weight`` at time ``at`` added to every key of ``keys`` (dimension -> keys); a new state."""
    state = dict(state or empty())
    if not weight:
        return state
    half_life = config.half_life_s
    for dimension, names in keys.items():
        scores = dict(state.get(dimension) or {})
        for name in names:
            old = scores.get(name)
            scores[name] = [round(weight, 4), at] if old is None else _sum(old, [weight, at], half_life)
        if len(scores) > config.top_n:
            scores = _trim(scores, config)
        state[dimension] = scores
    return state


def _sum(a: Entry, b: Entry, half_life: float) -> Entry:
    """Two decayed sums as one, referred to the later of their times."""
    (sa, ta), (sb, tb) = a, b
    if ta >= tb:
        return [round(sa + sb * math.exp2((tb - ta) / half_life), 4), ta]
    return [round(sa * math.exp2((ta - tb) / half_life) + sb, 4), tb]


def _trim(scores: dict[str, Entry], config: AffinityConfig) -> dict[str, Entry]:
    latest = max(t for _, t in scores.values())
    half_life = config.half_life_s

    def rank(item: tuple[str, Entry]) -> tuple[float, str]:
        name, (score, t) = item
        return -score * math.exp2((t - latest) / half_life), name

    if len(scores) == config.top_n + 1:  # the usual case, one key too many: drop the weakest, no sort
        weakest = max(scores.items(), key=rank)[0]
        return {name: entry for name, entry in scores.items() if name != weakest}
    return dict(sorted(scores.items(), key=rank)[: config.top_n])


def merge(
    into: Mapping[str, Mapping[str, Entry]] | None, other: Mapping[str, Mapping[str, Entry]] | None,
    config: AffinityConfig = DEFAULT,
) -> AffinityState:
    """Both persons' affinities: per key, the sum of both decayed scores; then the top N again."""
    into, other = into or empty(), other or empty()
    merged: AffinityState = {}
    for dimension in DIMENSIONS:
        scores = dict(into.get(dimension) or {})
        for name, entry in (other.get(dimension) or {}).items():
            scores[name] = _sum(scores[name], entry, config.half_life_s) if name in scores else list(entry)
        merged[dimension] = _trim(scores, config) if len(scores) > config.top_n else scores
    return merged


def scores_at(
    state: Mapping[str, Mapping[str, Entry]] | None, now: float, config: AffinityConfig = DEFAULT,
    normalise: bool = True,
) -> dict[str, dict[str, float]]:
    """Per dimension, the positive affinities decayed to ``now``, strongest first (equal: by name).

    ``normalise``: as shares of the dimension's total (they add up to 1), comparable between persons however
    active; otherwise the decayed sums themselves (which fade while a person is away)."""
    state = state or empty()
    read: dict[str, dict[str, float]] = {}
    for dimension in DIMENSIONS:
        decayed = [
            (name, score * math.exp2(min(0.0, t - now) / config.half_life_s))
            for name, (score, t) in (state.get(dimension) or {}).items()
            if score > 0
        ]
        decayed.sort(key=lambda item: (-item[1], item[0]))
        total = sum(value for _, value in decayed) if normalise else 1.0
        read[dimension] = {name: round(value / total, 4) for name, value in decayed if value > 0}
    return read
