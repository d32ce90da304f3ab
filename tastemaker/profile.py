"""A person's behaviour profile, as pure state transitions: apply an event, merge two profiles.

State (JSON, bounded: every bound is a ``ProfileConfig`` field)::

    {"events": 12,                                   every event applied
     "counts": {"page": 5, "Product Viewed": 4, ...}, per event name (page/screen: their type)
     "first_seen": 1795737720.7, "last_seen": ...,    event time, epoch seconds
     "devices": {"mobile": 3, "desktop": 9},
     "recent": [[time, name, [item ids]], ...],      newest first
     "traits": {"plan": "pro"}, "traits_at": t,      identify traits (tastemaker/traits.py), last identify time
     "recently_viewed": [["sku-1", t], ...],         viewed items, newest first, each once
     "cart": {...},                                  tastemaker/cart.py
     "purchases": [{"at": t, "items": [...], "revenue": 59.8}, ...],  newest first
     "purchase_count": 3, "revenue_total": 171.4,    every order (refunds subtract their revenue)
     "last_context": {"at": t, "device": "mobile", "locale": "fr-FR", "referrer": "...",
                      "campaign": {"source": "newsletter"}, "geo": {"country": "FR"}},
                                                     from the latest event carrying each
     "segments": ["vip", ...],                       sorted, set by rule actions
     "consent": {"personalization": true, "opted_out_at": null},
     "affinities": {...},                            tastemaker/affinity.py ([score, t] per key)
     "dwell_bonus": {"pv-9f2c": {"category": ["shoes"]}, "pv-77ab": "paid", ...},
                                                     the latest dwell_bonus_views page views: the keys their
                                                     long-dwell bonus will credit, or "paid" once it has
     "intent": {"at": t, "browse": 0.4, "research": 0.1, "purchase": 0.0, "abandonment_risk": 0.0}}
                                                     as last computed by refresh_intent at t, or None

Size: about 5.2 KB of JSON after 200 events, 7.7 KB after 10,000 (bench/profile_micro.py); the bounds keep
a profile under 20 KB with ids and names of ordinary length, however many events (tested).

The profile holds no session: a person's sessions are tastemaker/sessions.py's state, which the person
stage stores next to the profile (person state key "sessions"). What reads both takes the open session:
``refresh_intent(profile, now, session)`` and ``public_view(profile, now, session)``, ``session`` being
``sessions_state["current"]`` (None when none is open).

Intent is computed when it is read, by ``refresh_intent`` (which stores it in ``intent``) and
``public_view``, not by ``apply_event``: it depends on the clock (the time since the last event, which
makes abandonment), so a value computed per event is stale as soon as the person stops, and computing it
per event would about double or triple apply_event's cost (~25 us against ~12 us, bench/profile_micro.py)
for a value few events are read for. ``apply_event`` keeps the profile's inputs to it (cart, recent events)
current; a rule stage that reads intent calls ``refresh_intent(profile, event time, open session)``.

Long-dwell bonus (tastemaker/affinity.py): a page view's own event carries its category/tags/brand, its
heartbeats carry only its id and cumulative visible dwell. ``dwell_bonus`` remembers the keys of the latest
``dwell_bonus_views`` page views (page/screen events; id: ``page_view_id``, else ``event_id``, as in
tastemaker/sessions.py), completed by a Product Viewed (its page view, or the latest one); the first
heartbeat of one of them (a non-page event with its ``page_view_id``) whose ``dwell_ms`` reaches
``AffinityConfig.long_dwell_ms`` credits them once and marks it "paid". A heartbeat of a page view not
(or no longer) in the map credits nothing.

Consent: a person who opted out of personalization keeps being counted (events, counts, cart, orders,
traits, context), but gets no affinities, dwell bonus, intent or recently viewed items; opting out erases
them.

Merging (an anonymous visitor logs in) gives what one profile would hold had it seen both histories:
counts add, time-ordered lists interleave, affinities add after decay, carts add and each person's orders
empty both. Exceptions: traits and last_context take the newer profile's values over the older's (no
per-key times); intent is the later computed of the two (``refresh_intent`` with the merged session
recomputes it); dwell_bonus keeps both maps' page views (the newer profile's last); consent takes the
more restrictive (an opt-out on either side holds); an order's or a removal's affinity credits the items of
the cart as its own person held it; a bound reached by both (top N, segments) keeps its rule.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Mapping

from tastemaker import affinity, cart as carts, intent as intents, traits as trait_values
from tastemaker.affinity import AffinityConfig
from tastemaker.intent import IntentConfig
from tastemaker.traits import TraitsConfig

RECENT_MAX = 50
PAID = "paid"  # a dwell_bonus page view whose bonus has been credited
MAX_COUNTED_NAMES = 200  # event names are free text: bound the map


@dataclass(frozen=True)
class ProfileConfig:
    recent_max: int = RECENT_MAX
    """Entries of ``recent`` (latest events; intent finds a session's track steps there)."""
    recent_item_ids: int = 10
    """Item ids kept per ``recent`` entry (a product list may carry 50)."""
    max_counted_names: int = MAX_COUNTED_NAMES
    """Distinct event names counted (names are free text); later new names are not counted."""
    recently_viewed_max: int = 20
    """Items in ``recently_viewed``."""
    item_id_max_chars: int = 128
    """Item ids longer than this are not recorded as viewed."""
    cart_max_items: int = 50
    """Distinct items in the cart; adding more drops the one added longest ago."""
    purchases_max: int = 20
    """Orders kept in ``purchases`` (``purchase_count`` and ``revenue_total`` count them all)."""
    purchase_items_max: int = 10
    """Item ids kept per order."""
    segments_max: int = 50
    """Segments per person; adding one more is refused."""
    segment_max_chars: int = 64
    """Longer segment names are refused."""
    context_value_max_chars: int = 200
    """Referrer, locale and campaign/geo values are cut to this length."""
    traits: TraitsConfig = field(default_factory=TraitsConfig)
    """Bounds of ``traits``."""
    affinity: AffinityConfig = field(default_factory=AffinityConfig)
    """Half-life, top N and signal weights of ``affinities``."""
    dwell_bonus_views: int = 3
    """Page views whose long-dwell bonus is followed at once (open tabs): the latest ones."""
    intent: IntentConfig = field(default_factory=IntentConfig)
    """Intent weights."""


DEFAULT = ProfileConfig()


def empty() -> dict[str, Any]:
    return {"events": 0, "counts": {}, "first_seen": None, "last_seen": None, "devices": {}, "recent": [],
            **_personal_empty(), "traits": {}, "traits_at": None, "cart": carts.empty(), "purchases": [],
            "purchase_count": 0, "revenue_total": 0.0, "last_context": {},
            "consent": {"personalization": True, "opted_out_at": None}}


def _personal_empty() -> dict[str, Any]:
    """The fields personalization builds from behaviour, which ``reset`` and an opt-out clear."""
    return {"recently_viewed": [], "segments": [], "affinities": affinity.empty(), "dwell_bonus": {}, "intent": None}


def _complete(profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy, with the fields a profile stored before they existed (and without the visit it once held)."""
    if not profile:
        return empty()
    if "dwell_bonus" in profile:
        return dict(profile)
    return {name: value for name, value in {**empty(), **profile}.items() if name != "session"}


def event_label(event: Mapping[str, Any]) -> str:
    return event.get("name") if event.get("type") == "track" and event.get("name") else event["type"]


def personalized(profile: Mapping[str, Any]) -> bool:
    return (profile.get("consent") or {}).get("personalization", True)


def apply_event(profile: Mapping[str, Any] | None, event: Mapping[str, Any], config: ProfileConfig = DEFAULT) -> dict[str, Any]:
    profile = _complete(profile)
    label = event_label(event)
    at = event["event_time"]
    profile["events"] += 1
    profile["counts"] = _add_one(profile["counts"], label, config.max_counted_names)
    device = event.get("device_type")
    if device:
        profile["devices"] = _add_one(profile["devices"], device, config.max_counted_names)
    profile["first_seen"] = at if profile["first_seen"] is None else min(profile["first_seen"], at)
    profile["last_seen"] = at if profile["last_seen"] is None else max(profile["last_seen"], at)
    profile["recent"] = _newest_first(
        profile["recent"], [at, label, list((event.get("item_ids") or [])[: config.recent_item_ids])], config.recent_max)
    profile["last_context"] = _context(profile["last_context"], event, at, config.context_value_max_chars)
    if event["type"] == "identify" and event.get("traits"):
        profile["traits"] = trait_values.update(profile["traits"], event["traits"], config.traits)
        profile["traits_at"] = at if profile["traits_at"] is None else max(profile["traits_at"], at)

    name = event.get("name") if event["type"] == "track" else None
    signal = affinity.signal_of(event)
    keys = affinity.keys_of(event, config.affinity) if signal else {}
    if name in ("Product Removed", "Order Completed"):
        keys = _with_cart_keys(keys, profile["cart"], None if name == "Order Completed" else event.get("item_ids"))
    _apply_commerce(profile, name, event, at, config)

    if not personalized(profile):
        return profile
    profile["dwell_bonus"], reached = _dwell_bonus(profile["dwell_bonus"], event, keys, config)
    weights = profile["affinities"]
    if signal and keys:
        weights = affinity.add(weights, keys, config.affinity.weight(signal), at, config.affinity)
    if reached:
        weights = affinity.add(weights, reached, config.affinity.long_dwell, at, config.affinity)
    profile["affinities"] = weights
    if name == "Product Viewed" or (event["type"] in ("page", "screen") and event.get("page_type") == "product"):
        profile["recently_viewed"] = _viewed(profile["recently_viewed"], event.get("item_ids") or [], at, config)
    return profile


def _dwell_bonus(
    bonus: Mapping[str, Any], event: Mapping[str, Any], keys: Mapping[str, list[str]], config: ProfileConfig,
) -> tuple[Mapping[str, Any], dict[str, list[str]] | None]:
    """The dwell_bonus map after ``event``, and the keys whose long-dwell bonus it earns (once per page view)."""
    if event["type"] in ("page", "screen"):
        view_id = event.get("page_view_id") or event.get("event_id")
        if not view_id or view_id in bonus:
            return bonus, None
        kept = list(bonus.items())[-(config.dwell_bonus_views - 1):] if config.dwell_bonus_views > 1 else []
        return {**dict(kept), view_id: {d: list(k) for d, k in keys.items()}}, None
    view_id = event.get("page_view_id")
    if view_id and event.get("dwell_ms") is not None:  # a heartbeat
        known = bonus.get(view_id)
        if known is None or known == PAID or event["dwell_ms"] < config.affinity.long_dwell_ms:
            return bonus, None
        return {**bonus, view_id: PAID}, known
    if keys and bonus and event.get("name") == "Product Viewed":  # its page view learns what it was about
        view_id = view_id if view_id in bonus else next(reversed(bonus))
        known = bonus[view_id]
        if known != PAID and any(d not in known for d in keys):
            return {**bonus, view_id: {**{d: list(k) for d, k in keys.items()}, **known}}, None
    return bonus, None


def _apply_commerce(profile: dict[str, Any], name: str | None, event: Mapping[str, Any], at: float,
                    config: ProfileConfig) -> None:
    limit = config.cart_max_items
    if name == "Product Added":
        profile["cart"] = carts.add(profile["cart"], event, limit)
    elif name == "Product Removed":
        profile["cart"] = carts.remove(profile["cart"], event, limit)
    elif name == "Cart Viewed":
        profile["cart"] = carts.viewed(profile["cart"], event, limit)
    elif name == "Order Completed":
        in_cart = [i for i, item in profile["cart"]["items"].items() if item[carts.ADDED_AT] <= at]
        revenue = event.get("revenue")
        if revenue is None:
            revenue = profile["cart"]["value"]
        order = {"at": at, "items": list((event.get("item_ids") or in_cart)[: config.purchase_items_max]),
                 "revenue": round(revenue, 2)}
        profile["purchases"] = _orders(profile["purchases"] + [order], config.purchases_max)
        profile["purchase_count"] += 1
        profile["revenue_total"] = round(profile["revenue_total"] + revenue, 2)
        profile["cart"] = carts.clear(profile["cart"], at, limit)
    elif name == "Order Refunded" and event.get("revenue"):
        profile["revenue_total"] = round(max(0.0, profile["revenue_total"] - event["revenue"]), 2)


def _with_cart_keys(keys: dict[str, list[str]], cart: Mapping[str, Any], item_ids: list[str] | None) -> dict[str, list[str]]:
    """An event's own keys, plus the categories and brands of its cart items (all of them: None)."""
    keys = {d: list(k) for d, k in keys.items()}
    for item_id, item in cart["items"].items():
        if item_ids is not None and item_id not in item_ids:
            continue
        for dimension, value in (("category", item[carts.CATEGORY]), ("brand", item[carts.BRAND])):
            if value and value not in keys.setdefault(dimension, []):
                keys[dimension].append(value)
    return {d: k for d, k in keys.items() if k}


def _context(context: Mapping[str, Any], event: Mapping[str, Any], at: float, max_chars: int) -> dict[str, Any]:
    if context and context.get("at", at) > at:
        return dict(context)  # a late event: the context already holds newer values
    new = {**context, "at": at}
    for field_name, value in (("device", event.get("device_type")), ("locale", event.get("locale")),
                              ("referrer", event.get("page_referrer"))):
        if value:
            new[field_name] = value[:max_chars]
    for field_name in ("campaign", "geo"):
        if event.get(field_name):
            new[field_name] = {k: str(v)[:max_chars] for k, v in list(event[field_name].items())[:8]}
    return new


def _viewed(viewed: list, item_ids: list[str], at: float, config: ProfileConfig) -> list:
    ids = [i for i in item_ids if len(i) <= config.item_id_max_chars]
    if not ids:
        return viewed
    if len(ids) == 1 and (not viewed or at >= viewed[0][1]):  # the usual case: one item, newest
        return [[ids[0], at]] + [e for e in viewed if e[0] != ids[0]][: config.recently_viewed_max - 1]
    kept = [entry for entry in viewed if entry[0] not in ids or entry[1] > at]
    fresh = [[i, at] for i in ids if not any(e[0] == i for e in kept)]
    return _recently(kept + fresh, config.recently_viewed_max)


def _recently(entries: list, limit: int) -> list:
    latest: dict[str, float] = {}
    for item_id, at in entries:
        if at > latest.get(item_id, float("-inf")):
            latest[item_id] = at
    return [[i, t] for i, t in sorted(latest.items(), key=lambda e: (-e[1], e[0]))[:limit]]


def _orders(orders: list, limit: int) -> list:
    return sorted(orders, key=lambda order: order["at"], reverse=True)[:limit]


def refresh_intent(profile: Mapping[str, Any], now: float, session: Mapping[str, Any] | None,
                   config: ProfileConfig = DEFAULT) -> dict[str, Any]:
    """The profile with its intent computed at ``now`` from it and ``session``, the person's open session
    (tastemaker/sessions.py: ``state["current"]``, None when none is open). Opted out: left as it is."""
    profile = _complete(profile)
    if personalized(profile):
        features = intents.features_from(profile, session, now, config.intent)
        profile["intent"] = {"at": now, **intents.score(features, config.intent)}
    return profile


def merge(into: Mapping[str, Any] | None, other: Mapping[str, Any] | None, config: ProfileConfig = DEFAULT) -> dict[str, Any]:
    into, other = _complete(into), _complete(other)
    seen = [t for t in (into["first_seen"], other["first_seen"]) if t is not None]
    last = [t for t in (into["last_seen"], other["last_seen"]) if t is not None]
    older, newer = (into, other) if (into["traits_at"] or 0) <= (other["traits_at"] or 0) else (other, into)
    traits_at = [t for t in (into["traits_at"], other["traits_at"]) if t is not None]
    old_ctx, new_ctx = sorted((into["last_context"], other["last_context"]), key=lambda c: c.get("at", float("-inf")))
    merged = {
        "events": into["events"] + other["events"],
        "counts": _add(into["counts"], other["counts"], config.max_counted_names),
        "first_seen": min(seen) if seen else None,
        "last_seen": max(last) if last else None,
        "devices": _add(into["devices"], other["devices"], config.max_counted_names),
        "recent": sorted(into["recent"] + other["recent"], key=lambda e: e[0], reverse=True)[: config.recent_max],
        "traits": trait_values.update(older["traits"], newer["traits"], config.traits),
        "traits_at": max(traits_at) if traits_at else None,
        "recently_viewed": _recently(into["recently_viewed"] + other["recently_viewed"], config.recently_viewed_max),
        "cart": carts.merge(into["cart"], other["cart"], config.cart_max_items),
        "purchases": _orders(into["purchases"] + other["purchases"], config.purchases_max),
        "purchase_count": into["purchase_count"] + other["purchase_count"],
        "revenue_total": round(into["revenue_total"] + other["revenue_total"], 2),
        "last_context": {**old_ctx, **new_ctx},
        "segments": sorted(set(into["segments"]) | set(other["segments"]))[: config.segments_max],
        "consent": _stricter(into["consent"], other["consent"]),
        "affinities": affinity.merge(into["affinities"], other["affinities"], config.affinity),
        "dwell_bonus": _merge_dwell_bonus(into, other, config),
        "intent": max((p["intent"] for p in (into, other) if p["intent"]), key=lambda i: i["at"], default=None),
    }
    if not merged["consent"]["personalization"]:
        return {**merged, **_personal_empty()}
    return merged


def _merge_dwell_bonus(a: Mapping[str, Any], b: Mapping[str, Any], config: ProfileConfig) -> dict[str, Any]:
    """Both maps, the profile seen last's page views last (kept first); a bonus paid on either side is paid."""
    older, newer = (a, b) if (a["last_seen"] or 0) <= (b["last_seen"] or 0) else (b, a)
    merged = dict(older["dwell_bonus"])
    for view_id, keys in newer["dwell_bonus"].items():
        known = merged.pop(view_id, None)
        merged[view_id] = PAID if PAID in (keys, known) else {**(known or {}), **keys}
    return dict(list(merged.items())[-config.dwell_bonus_views:]) if config.dwell_bonus_views > 0 else {}


def _stricter(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    if a["personalization"] and b["personalization"]:
        return dict(a)
    out = [t for t in (a["opted_out_at"], b["opted_out_at"]) if t is not None]
    return {"personalization": False, "opted_out_at": max(out) if out else None}


def reset(profile: Mapping[str, Any]) -> dict[str, Any]:
    """Personalization starts again from nothing (affinities, dwell bonus, intent, recently viewed, segments);
    counts, cart, orders, traits and consent stay."""
    return {**_complete(profile), **_personal_empty()}


def opt_out(profile: Mapping[str, Any], at: float) -> dict[str, Any]:
    """No personalization from now on, and what it had built erased."""
    return {**reset(profile), "consent": {"personalization": False, "opted_out_at": at}}


def opt_in(profile: Mapping[str, Any]) -> dict[str, Any]:
    return {**_complete(profile), "consent": {"personalization": True, "opted_out_at": None}}


def set_trait(profile: Mapping[str, Any], key: str, value: Any, config: ProfileConfig = DEFAULT) -> dict[str, Any]:
    """A rule action: set (None: remove) one trait, within the traits' bounds."""
    profile = _complete(profile)
    profile["traits"] = trait_values.update(profile["traits"], {key: value}, config.traits)
    return profile


def add_segment(profile: Mapping[str, Any], segment: str, config: ProfileConfig = DEFAULT) -> dict[str, Any]:
    """A rule action; refused (profile unchanged) for a blank or too long name, or past ``segments_max``."""
    profile = _complete(profile)
    segments = profile["segments"]
    if (not segment or len(segment) > config.segment_max_chars or segment in segments
            or len(segments) >= config.segments_max or not personalized(profile)):
        return profile
    segments = list(segments)
    bisect.insort(segments, segment)
    profile["segments"] = segments
    return profile


def remove_segment(profile: Mapping[str, Any], segment: str) -> dict[str, Any]:
    profile = _complete(profile)
    if segment in profile["segments"]:
        profile["segments"] = [s for s in profile["segments"] if s != segment]
    return profile


def public_view(profile: Mapping[str, Any], now: float, session: Mapping[str, Any] | None = None,
                config: ProfileConfig = DEFAULT) -> dict[str, Any]:
    """What ``GET /profiles/{id}`` shows: affinities decayed to ``now`` (shares per dimension), intent and
    its why at ``now`` from the profile and ``session``, the open session as in ``refresh_intent`` (both
    None for a person opted out or never seen); no reference times or internal bookkeeping."""
    profile = _complete(profile)
    cart = profile["cart"]
    view = {
        name: profile[name] for name in (
            "events", "counts", "first_seen", "last_seen", "devices", "recent", "traits", "purchases",
            "purchase_count", "revenue_total", "segments", "consent")
    }
    view["last_context"] = {k: v for k, v in profile["last_context"].items() if k != "at"}
    view["recently_viewed"] = [item_id for item_id, _ in profile["recently_viewed"]]
    view["cart"] = {"items": [{"id": i, "quantity": item[carts.QUANTITY], "price": item[carts.PRICE],
                               "category": item[carts.CATEGORY], "brand": item[carts.BRAND]}
                              for i, item in cart["items"].items()],
                    "value": cart["value"]}
    view["affinities"] = affinity.scores_at(profile["affinities"], now, config.affinity)
    view["intent"], view["intent_why"] = None, None
    if personalized(profile) and profile["last_seen"] is not None:
        features = intents.features_from(profile, session, now, config.intent)
        view["intent"] = intents.score(features, config.intent)
        view["intent_why"] = intents.explain(features, config.intent)
    return view


def _add(counts: Mapping[str, int], more: Mapping[str, int], limit: int = MAX_COUNTED_NAMES) -> dict[str, int]:
    total = dict(counts)
    for name, n in more.items():
        if name in total or len(total) < limit:
            total[name] = total.get(name, 0) + n
    return total


def _add_one(counts: Mapping[str, int], name: str, limit: int) -> dict[str, int]:
    """``_add(counts, {name: 1}, limit)``, without the one-entry dict and its loop (twice per event)."""
    total = dict(counts)
    if name in total or len(total) < limit:
        total[name] = total.get(name, 0) + 1
    return total


def _newest_first(entries: list, entry: list, limit: int) -> list:
    if not entries or entry[0] > entries[0][0]:
        return [entry] + entries[: limit - 1]  # the usual case: no sort
    return sorted(entries + [entry], key=lambda e: e[0], reverse=True)[:limit]
