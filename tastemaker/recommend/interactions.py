"""Events to weighted (person, item) interactions, the training data of the model and of the fold-in.

Each event whose label (track name; page/screen for a product page) has a weight in
``InteractionConfig.weights`` credits that weight to each of its items. Views whose engagement heartbeat
reaches ``long_dwell_ms`` earn ``long_dwell_bonus`` once (the heartbeat carries the page view id, which the
page event named). A pair's weights add up, capped at ``max_weight`` so one obsessive re-viewer does not
outweigh a purchase by ten others.

``Interaction`` keeps the latest time of the pair too: the fold-in weighs recent interactions more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from tastemaker.recommend.config import InteractionConfig

DEFAULT = InteractionConfig()


@dataclass(frozen=True)
class Interaction:
    person: str
    item_id: str
    weight: float
    at: float
    """Time of the latest event of the pair, epoch seconds."""


def person_of(event: Mapping[str, Any]) -> str | None:
    return event.get("person") or event.get("key") or event.get("user_id") or event.get("anonymous_id")


def label_of(event: Mapping[str, Any]) -> str:
    if event.get("type") == "track" and event.get("name"):
        return event["name"]
    return event.get("type") or event.get("name") or ""


def weight_of(event: Mapping[str, Any], config: InteractionConfig = DEFAULT) -> float:
    """The weight one event gives each of its items (0: not an interaction)."""
    label = label_of(event)
    if label in ("page", "screen") and event.get("page_type") != "product":
        return 0.0  # only product pages are about an item
    return config.weights.get(label, 0.0)


def from_events(events: Iterable[Mapping[str, Any]], config: InteractionConfig = DEFAULT) -> list[Interaction]:
    """Weighted interactions of ``events`` (normalized events: person/key, type, name, item_ids, event_time,
    page_type, page_view_id, dwell_ms), one per (person, item), sorted by person then item."""
    pairs: dict[tuple[str, str], list[float]] = {}
    view_items: dict[str, tuple[str, list[str]]] = {}  # page view id -> (person, items): for the dwell bonus
    paid: set[str] = set()
    for event in events:
        person = person_of(event)
        if not person:
            continue
        at = float(event.get("event_time") or 0.0)
        items = [i for i in (event.get("item_ids") or []) if i]
        weight = weight_of(event, config)
        if weight and items:
            for item_id in items:
                _credit(pairs, (person, item_id), weight, at)
            view_id = event.get("page_view_id") or event.get("event_id")
            if view_id and label_of(event) in ("page", "screen", "Product Viewed"):
                view_items[view_id] = (person, items)
        elif event.get("dwell_ms") is not None and event.get("page_view_id") in view_items:
            view_id = event["page_view_id"]
            if view_id not in paid and event["dwell_ms"] >= config.long_dwell_ms:
                paid.add(view_id)
                owner, viewed = view_items[view_id]
                for item_id in viewed:
                    _credit(pairs, (owner, item_id), config.long_dwell_bonus, at)
    return [Interaction(p, i, min(w, config.max_weight), t) for (p, i), (w, t) in sorted(pairs.items())]


def _credit(pairs: dict[tuple[str, str], list[float]], key: tuple[str, str], weight: float, at: float) -> None:
    entry = pairs.get(key)
    if entry is None:
        pairs[key] = [weight, at]
    else:
        entry[0] += weight
        entry[1] = max(entry[1], at)


def from_profile(profile: Mapping[str, Any] | None, config: InteractionConfig = DEFAULT) -> list[tuple[str, float, float]]:
    """A person's own latest interactions as the profile holds them (tastemaker/profile.py): recently viewed
    items, the cart, orders; ``(item_id, weight, at)``, newest first, one per item (its strongest signal,
    at its latest time). This is what the fold-in reads at request time: no event log needed."""
    if not profile:
        return []
    w = config.weights
    best: dict[str, tuple[float, float]] = {}

    def note(item_id: str, weight: float, at: float) -> None:
        old = best.get(item_id)
        if old is None or weight > old[0] or (weight == old[0] and at > old[1]):
            best[item_id] = (max(weight, old[0]) if old else weight, max(at, old[1]) if old else at)

    for item_id, at in profile.get("recently_viewed") or []:
        note(item_id, w.get("Product Viewed", 1.0), float(at))
    for item_id, item in ((profile.get("cart") or {}).get("items") or {}).items():
        note(item_id, w.get("Product Added", 3.0), float(item[-1]))  # cart item: [..., added at]
    for order in profile.get("purchases") or []:
        for item_id in order.get("items") or []:
            note(item_id, w.get("Order Completed", 5.0), float(order["at"]))
    return sorted(((i, wt, at) for i, (wt, at) in best.items()), key=lambda e: (-e[2], e[0]))
