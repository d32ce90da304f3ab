"""A person's controls and onboarding, kept in a small recommend state next to their profile.

State (JSON, bounded)::

    {"not_interested": {"items": ["sku-1", ...], "categories": ["shoes", ...]},   latest first, capped
     "preferences": {"categories": [...], "brands": [...]},                       onboarding answers
     "caps": {...}}                                                               tastemaker/recommend/caps.py

"Not interested" in an item hides it; in a category hides every item whose categories include it. An
opt-out of personalization is the profile's consent (tastemaker/profile.py ``opt_out``): the pipeline then
serves non-personalized lists. Onboarding answers are kept as preferences (context features of the model
and a ranking bonus) and seed the profile's affinities (``seed_profile``), so the first list already leans
to them; behaviour then outweighs them as its affinities grow.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from tastemaker import affinity
from tastemaker import profile as profiles
from tastemaker.recommend.features import clean

MAX_HIDDEN_ITEMS = 200
MAX_HIDDEN_CATEGORIES = 50
MAX_PREFERENCES = 20
ONBOARDING_AFFINITY_WEIGHT = 2.0
"""Affinity credited per onboarding answer: as much as a wishlist add, less than a cart add."""


def empty() -> dict[str, Any]:
    return {"not_interested": {"items": [], "categories": []}, "preferences": {}, "caps": {}}


def _complete(state: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**empty(), **(state or {})}


def not_interested(state: Mapping[str, Any] | None, *, item_id: str | None = None,
                   category: str | None = None) -> dict[str, Any]:
    state = _complete(state)
    hidden = {"items": list(state["not_interested"].get("items", [])),
              "categories": list(state["not_interested"].get("categories", []))}
    for kind, value, limit in (("items", item_id, MAX_HIDDEN_ITEMS),
                               ("categories", category and clean(category), MAX_HIDDEN_CATEGORIES)):
        if value:
            hidden[kind] = ([value] + [v for v in hidden[kind] if v != value])[:limit]
    state["not_interested"] = hidden
    return state


def undo_not_interested(state: Mapping[str, Any] | None, *, item_id: str | None = None,
                        category: str | None = None) -> dict[str, Any]:
    state = _complete(state)
    hidden = state["not_interested"]
    state["not_interested"] = {
        "items": [i for i in hidden.get("items", []) if i != item_id],
        "categories": [c for c in hidden.get("categories", []) if c != (category and clean(category))]}
    return state


def set_preferences(state: Mapping[str, Any] | None, categories: Iterable[str] = (),
                    brands: Iterable[str] = ()) -> dict[str, Any]:
    state = _complete(state)
    state["preferences"] = {"categories": [clean(c) for c in categories if c][:MAX_PREFERENCES],
                            "brands": [clean(b) for b in brands if b][:MAX_PREFERENCES]}
    return state


def seed_profile(profile: Mapping[str, Any] | None, preferences: Mapping[str, Iterable[str]], at: float,
                 config: profiles.ProfileConfig = profiles.DEFAULT) -> dict[str, Any]:
    """The profile with onboarding answers credited to its category and brand affinities (not for a person
    who opted out)."""
    profile = {**profiles.empty(), **(profile or {})}
    if not profiles.personalized(profile):
        return profile
    keys = {"category": [clean(c) for c in preferences.get("categories") or [] if c],
            "brand": [clean(b) for b in preferences.get("brands") or [] if b]}
    keys = {d: k for d, k in keys.items() if k}
    if keys:
        profile["affinities"] = affinity.add(profile["affinities"], keys, ONBOARDING_AFFINITY_WEIGHT, at, config.affinity)
    return profile
