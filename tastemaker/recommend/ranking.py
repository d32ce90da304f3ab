"""Score adjustments from the profile: affinities, intent, onboarding answers.

An item's final score is its candidate score (in [0, 1] after mixing sources, candidates.py) plus::

    category_affinity * max share of the person's category affinity among the item's categories
  + brand_affinity    * share of its brand
  + tag_affinity      * max share among its tags
  + purchase_intent_cart_category * purchase intent   if the item shares a category with the cart
  + research_intent_content       * research intent   if the item is an article/guide (content_kinds)
  + onboarding                                         if its category or brand was chosen in onboarding

Shares are the profile's affinities normalised per dimension (tastemaker/affinity.py ``scores_at``), so a
bonus is the same for a new and a long-time visitor with the same tastes. Intent scores are in [0, 1]
(tastemaker/intent.py). All weights: ``RankingConfig``; each is the most its term can add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from tastemaker import affinity
from tastemaker.recommend.catalog_index import CatalogIndex
from tastemaker.recommend.config import RankingConfig
from tastemaker.recommend.features import clean

DEFAULT = RankingConfig()


@dataclass
class Signals:
    """What ranking reads of a person, lower-cased keys."""
    category: dict[str, float] = field(default_factory=dict)
    brand: dict[str, float] = field(default_factory=dict)
    tag: dict[str, float] = field(default_factory=dict)
    purchase_intent: float = 0.0
    research_intent: float = 0.0
    cart_categories: frozenset[str] = frozenset()
    preferred_categories: frozenset[str] = frozenset()
    preferred_brands: frozenset[str] = frozenset()


def signals_of(profile: Mapping[str, Any] | None, preferences: Mapping[str, Any] | None, now: float) -> Signals:
    profile = profile or {}
    shares = affinity.scores_at(profile.get("affinities"), now) if profile.get("affinities") else {}
    intent = profile.get("intent") or {}
    cart_items = ((profile.get("cart") or {}).get("items") or {}).values()
    preferences = preferences or {}
    return Signals(
        category={clean(k): v for k, v in (shares.get("category") or {}).items()},
        brand={clean(k): v for k, v in (shares.get("brand") or {}).items()},
        tag={clean(k): v for k, v in (shares.get("tag") or {}).items()},
        purchase_intent=float(intent.get("purchase") or 0.0),
        research_intent=float(intent.get("research") or 0.0),
        cart_categories=frozenset(clean(item[2]) for item in cart_items if item[2]),
        preferred_categories=frozenset(clean(c) for c in preferences.get("categories") or []),
        preferred_brands=frozenset(clean(b) for b in preferences.get("brands") or []))


def adjustment(item_id: str, catalog: CatalogIndex, signals: Signals, config: RankingConfig = DEFAULT) -> tuple[float, str | None]:
    """The bonus of an item, and a short reason when one term dominates (else None). Runs for every
    candidate of every request: plain comparisons, and a reason's text is built only for the leading term."""
    categories, tags, brand = catalog.facets.get(item_id) or ((), (), None)
    total = top = 0.0
    reason = None
    if signals.category and categories:
        shares = signals.category
        best = max(categories, key=lambda c: shares.get(c, 0.0))
        if shares.get(best):
            top = term = config.category_affinity * shares[best]
            total, reason = term, f"you often look at {best}"
    if brand and signals.brand.get(brand):
        term = config.brand_affinity * signals.brand[brand]
        total += term
        if term > top:
            top, reason = term, f"you like {brand}"
    if tags and signals.tag:
        term = config.tag_affinity * max(signals.tag.get(t, 0.0) for t in tags)
        total += term
        if term > top:
            top, reason = term, "matches your interests"
    if signals.purchase_intent and not signals.cart_categories.isdisjoint(categories):
        term = config.purchase_intent_cart_category * signals.purchase_intent
        total += term
        if term > top:
            top, reason = term, "goes with your cart"
    if signals.research_intent and any(kind in config.content_kinds for kind in (*categories, *tags)):
        term = config.research_intent_content * signals.research_intent
        total += term
        if term > top:
            top, reason = term, "a guide for your research"
    if not signals.preferred_categories.isdisjoint(categories) or (brand and brand in signals.preferred_brands):
        term = config.onboarding
        total += term
        if term > top:
            top, reason = term, "you chose it in onboarding"
    return total, reason if top >= 0.1 else None
