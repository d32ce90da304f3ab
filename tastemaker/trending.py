"""Global trending items and categories: time-decayed event scores, O(1) per update.

A key's (``item:<id>``, ``category:<name>``) score at time ``now`` is::

    score(now) = sum over its events e of  weight(label of e) * 2 ** (-(now - t_e) / half_life)

so an event counts fully when it happens, half after one half-life, a quarter after two. The sum is kept
as one number at a reference time, the newest event time seen: ``(score, at)``. Moving it to another time
multiplies it by ``2 ** (-(new - at) / half_life)``, which holds for every term of the sum at once, so::

    apply:  (s, at) + event (w, t)   ->   (s * d(at -> r) + w * d(t -> r),  r = max(at, t))
    merge:  (s1, at1) + (s2, at2)    ->   (s1 * d(at1 -> r) + s2 * d(at2 -> r),  r = max(at1, at2))
    read:   score_at((s, at), now)   =    s * d(at -> now)           d(a -> b) = 2 ** (-(b - a) / half_life)

Both are sums moved to a common time, hence commutative and associative (to float rounding): events may
arrive in any order, and per-partition partial states of one key merge into the state of the whole.
Always moving *forward* (to the newer time) keeps the factors <= 1: no overflow, however old a state.

``top`` ranks many keys at one ``now``; since every score is moved to the same time, the order is that of
the true decayed sums. ``negligible`` says when a key's score has decayed so far that its state can be
deleted (it bounds the table of keys).

State of one key (JSON): ``{"score": 12.75, "at": 1795737720.5}`` (``at``: epoch seconds).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from tastemaker.profile import event_label

HOUR = 3600.0

DEFAULT_WEIGHTS = MappingProxyType({
    "Product Viewed": 1.0,
    "page": 1.0,   # a page (or screen) counts for the items and category it shows
    "screen": 1.0,
    "Product Clicked": 1.0,
    "Product Added": 3.0,    # add to cart
    "Order Completed": 5.0,  # purchase, for each item of the order
})


@dataclass(frozen=True)
class TrendingConfig:
    """Every default:

    - ``half_life`` (6 h): a score halves every 6 hours without new events: "trending today", where an
      evening's peak still shows the next morning at a quarter. Seconds.
    - ``weights``: per event label (tastemaker.profile.event_label): Product Viewed, page, screen and
      Product Clicked 1; Product Added (add to cart) 3; Order Completed (purchase) 5 for each item.
      Labels not listed weigh ``other_weight``.
    - ``other_weight`` (0): identify, Products Searched, custom events do not make an item trend.
    - ``forget_below`` (0.01): a score under this is negligible (a single view, 40 hours on), and its key
      may be deleted.
    """

    half_life: float = 6 * HOUR
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    other_weight: float = 0.0
    forget_below: float = 0.01

    def __post_init__(self) -> None:
        if self.half_life <= 0:
            raise ValueError("half_life must be positive seconds")

    def weight(self, event: Mapping[str, Any]) -> float:
        return self.weights.get(event_label(event), self.other_weight)


DEFAULT = TrendingConfig()


def keys_of(event: Mapping[str, Any]) -> list[str]:
    """The keys an event scores for: each of its items, and its category."""
    keys = [f"item:{item}" for item in dict.fromkeys(event.get("item_ids") or ())]
    if event.get("category"):
        keys.append(f"category:{event['category']}")
    return keys


def add(state: Mapping[str, Any] | None, weight: float, at: float, config: TrendingConfig = DEFAULT) -> dict[str, Any]:
    """The state with ``weight`` added at time ``at``."""
    return merge(state, {"score": weight, "at": at}, config)


def apply(state: Mapping[str, Any] | None, event: Mapping[str, Any], config: TrendingConfig = DEFAULT
          ) -> dict[str, Any] | None:
    """One key's state after ``event`` (for each key of ``keys_of(event)``). A weight-0 event changes
    nothing: the state is returned as it was (None stays None, so no key is created)."""
    weight = config.weight(event)
    if not weight:
        return dict(state) if state else None
    return add(state, weight, event["event_time"], config)


def merge(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, config: TrendingConfig = DEFAULT
          ) -> dict[str, Any]:
    """Partial states of one key (e.g. from two partitions) as one: both moved to the newer time, summed."""
    if not a or not b:
        return dict(a or b or {"score": 0.0, "at": 0.0})
    at = max(a["at"], b["at"])
    return {"score": _decayed(a, at, config) + _decayed(b, at, config), "at": at}


def score_at(state: Mapping[str, Any] | None, now: float, config: TrendingConfig = DEFAULT) -> float:
    """The score at ``now``. Before the state's time the factor exceeds 1 (the sum is consistent either
    way, so ranking at any common ``now`` stays right)."""
    return _decayed(state, now, config) if state else 0.0


def negligible(state: Mapping[str, Any] | None, now: float, config: TrendingConfig = DEFAULT) -> bool:
    return score_at(state, now, config) < config.forget_below


def top(entries: Iterable[tuple[str, Mapping[str, Any]]], now: float, n: int,
        config: TrendingConfig = DEFAULT) -> list[tuple[str, float]]:
    """The ``n`` highest scores at ``now`` of ``(key, state)`` pairs, highest first (ties: by key), without
    negligible ones. Memory O(n) however many entries: a heap of the best so far."""
    scored = ((score_at(state, now, config), key) for key, state in entries)
    best = heapq.nsmallest(n, ((-score, key) for score, key in scored if score >= config.forget_below))
    return [(key, -negative) for negative, key in best]


def _decayed(state: Mapping[str, Any], to: float, config: TrendingConfig) -> float:
    return state["score"] * 2.0 ** (-(to - state["at"]) / config.half_life)


# --- partials: one partition's keys, and the whole from every partition's partial -------------------------

PARTIAL_MAX_KEYS = 2_000  # keys kept per partition's partial; past it the lowest scores are dropped


def apply_to_partial(partial: Mapping[str, Mapping[str, Any]] | None, event: Mapping[str, Any],
                     config: TrendingConfig = DEFAULT, max_keys: int = PARTIAL_MAX_KEYS) -> dict[str, Any] | None:
    """One partition's keys after ``event`` (None: the event carries no weight, nothing changes). Bounded:
    past ``max_keys`` the keys with the lowest scores at the event's time go (ties: by key).

    A new dict: it copies the partial, thousands of keys (~20 us). A caller that owns its partial, as the
    person stage does (agents/trending.py), updates it in place with ``add_to_partial``."""
    if not keys_of(event) or config.weight(event) <= 0:
        return None
    partial = dict(partial or {})
    add_to_partial(partial, event, config, max_keys)
    return partial


def add_to_partial(partial: dict[str, Any], event: Mapping[str, Any], config: TrendingConfig = DEFAULT,
                   max_keys: int = PARTIAL_MAX_KEYS) -> bool:
    """``apply_to_partial`` in place: ``partial`` becomes what it would return (the same keys, values and
    order); False when the event carries no weight and nothing changed. The key states themselves are
    replaced, never changed, so a copy of ``partial`` taken before (a stored snapshot) stays as it was."""
    keys = keys_of(event)
    if not keys or config.weight(event) <= 0:
        return False
    for key in keys:
        updated = apply(partial.get(key), event, config)
        if updated is not None:
            partial[key] = updated
    if len(partial) > max_keys:
        now = float(event["event_time"])
        kept = {key: partial[key] for key, _ in top(partial.items(), now, max_keys, config)}
        partial.clear()
        partial.update(kept)
    return True


def whole(partials: Iterable[Mapping[str, Mapping[str, Any]]], config: TrendingConfig = DEFAULT) -> dict[str, Any]:
    """Every partition's partial merged: the state of each key over all partitions."""
    merged: dict[str, Any] = {}
    for partial in partials:
        for key, state in partial.items():
            merged[key] = merge(merged.get(key), state, config)
    return merged
