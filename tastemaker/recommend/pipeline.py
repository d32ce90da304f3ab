"""One request, one list: candidates -> filters -> ranking adjustments -> diversity -> exploration.

``recommend(person, snapshot, catalog, trending, popular, request)`` never raises: whatever is missing or
fails, the answer is popular/default content with ``fallback: true`` and why (``fallback_reason``):

    no_model     no model snapshot loaded: trending, popular in context, similar-to-recent by content
    no_history   a model, but nothing to fold in (new person, no context the model knows)
    opted_out    the person opted out of personalization (or the request asked for none): global popular
                 and trending, business filters only, nothing read from the profile
    error        an unexpected error in the personalized path (logged)
    empty        no source had anything: the newest available catalog items

``person``: ``{"profile": <tastemaker/profile.py state>, "session": <open session or None>,
"recommend": <controls.py state: not interested, onboarding preferences, caps>}``, or None for a person
never seen. Frequency caps are read here; recording what was shown and clicked is the caller's, with
caps.record_shown / record_click on the same state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from tastemaker import profile as profiles
from tastemaker.recommend import candidates as sources, diversity, features, filters, interactions, ranking
from tastemaker.recommend.candidates import Candidate
from tastemaker.recommend.catalog_index import CatalogIndex
from tastemaker.recommend.config import DEFAULT, RecommendConfig
from tastemaker.recommend.model import ModelSnapshot

log = logging.getLogger(__name__)


@dataclass
class Request:
    count: int | None = None
    """Items wanted (config default_count when None, at most max_count)."""
    now: float | None = None
    """Request time, epoch seconds (the clock when None)."""
    context: Mapping[str, Any] | None = None
    """This request's context (device, locale, referrer, campaign); the profile's last context when None."""
    exclude: Sequence[str] = ()
    """Items not to recommend here (the one on the page, ones shown elsewhere on it)."""
    personalize: bool = True
    """False: a non-personalized list, as for a person who opted out."""


@dataclass
class Result:
    items: list[dict[str, Any]]
    model_version: str | None
    fallback: bool
    fallback_reason: str | None = None
    personalized: bool = True
    filtered: dict[str, int] = field(default_factory=dict)
    """Candidates removed per filter (debugging, metrics)."""

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every item dict (~3% of a request's time in the worker).
        return {"items": self.items, "model_version": self.model_version, "fallback": self.fallback,
                "fallback_reason": self.fallback_reason, "personalized": self.personalized,
                "filtered": self.filtered}


def recommend(person: Mapping[str, Any] | None, snapshot: ModelSnapshot | None,
              catalog: CatalogIndex | Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None,
              trending: Sequence[tuple[str, float]] = (), popular: Mapping[str, Sequence[tuple[str, float]]] | None = None,
              request: Request | None = None, config: RecommendConfig = DEFAULT) -> Result:
    request = request or Request()
    catalog = CatalogIndex.of(catalog)
    now = time.time() if request.now is None else request.now
    count = max(1, min(request.count or config.default_count, config.max_count))
    popular = popular or {}
    profile = (person or {}).get("profile")
    try:
        if not request.personalize or (profile and not profiles.personalized(profile)):
            return _non_personalized(catalog, trending, popular, request, count, now, config)
        return _personalized(person or {}, snapshot, catalog, trending, popular, request, count, now, config)
    except Exception:  # a list with fallback: true is always better than an error page
        log.exception("recommendation failed; serving the non-personalized list")
        result = _non_personalized(catalog, trending, popular, request, count, now, config)
        return Result(result.items, None, True, "error", False, result.filtered)


def _personalized(person: Mapping[str, Any], snapshot: ModelSnapshot | None, catalog: CatalogIndex,
                  trending: Sequence[tuple[str, float]], popular: Mapping[str, Sequence[tuple[str, float]]],
                  request: Request, count: int, now: float, config: RecommendConfig) -> Result:
    profile = person.get("profile")
    controls = person.get("recommend") or {}
    if profile and person.get("session") is not None:
        profile = profiles.refresh_intent(profile, now, person["session"])
    preferences = controls.get("preferences") or {}
    recent = interactions.from_profile(profile, config.interactions)
    context_tokens = features.context_tokens(request.context or (profile or {}).get("last_context"), preferences)
    n = max(config.candidates.per_source, 4 * count)

    found: list[list[Candidate]] = []
    user = None
    if snapshot is not None:
        user = snapshot.fold_in(recent, context_tokens, now, config.fold_in, extra_items=catalog.items)
        if user is not None:
            why = "based on what you viewed recently" if recent else "liked by visitors like you"
            found.append(sources.collaborative(snapshot, user, why, n))
        found.append(sources.new_items(snapshot, user, catalog, now, config.candidates))
    found.append(sources.similar_to([item_id for item_id, _, _ in recent], catalog, snapshot, config.candidates))
    found.append(sources.trending(trending, n))
    found.append(sources.popular(popular, context_tokens, n))
    found.append(_chosen(preferences, catalog, popular, n))

    fallback_reason = "no_model" if snapshot is None else "no_history" if user is None else None
    mixed = sources.mix(found, config.candidates)
    if not mixed:
        return _default(catalog, request, count, now, config)

    cart = frozenset(((profile or {}).get("cart") or {}).get("items") or {})
    bought = frozenset(i for order in (profile or {}).get("purchases") or [] for i in order.get("items") or [])
    hidden = controls.get("not_interested") or {}
    ctx = filters.FilterContext(catalog, now, purchased=bought, in_cart=cart, excluded=frozenset(request.exclude),
                                hidden_items=frozenset(hidden.get("items") or ()),
                                hidden_categories=frozenset(hidden.get("categories") or ()),
                                cap_state=controls.get("caps") or {})
    kept, removed = filters.apply(mixed, ctx)

    signals = ranking.signals_of(profile, preferences, now)
    for candidate in kept:
        bonus, reason = ranking.adjustment(candidate.item_id, catalog, signals, config.ranking)
        candidate.score += bonus
        if reason:
            candidate.reason = reason
    kept.sort(key=lambda c: (-c.score, c.item_id))

    slots = config.exploration.slots if count > config.exploration.position else 0
    picked = diversity.rerank(kept, count - slots, catalog, config.diversity)
    explored = _explore(picked, kept, catalog, signals, config) if slots else None
    picked = explored or diversity.rerank(kept, count, catalog, config.diversity)
    return Result(_items(picked), snapshot.version if snapshot is not None else None,
                  fallback_reason is not None, fallback_reason, True, removed)


def _chosen(preferences: Mapping[str, Any], catalog: CatalogIndex, popular: Mapping[str, Sequence[tuple[str, float]]],
            n: int) -> list[Candidate]:
    """Onboarding: items of the chosen categories/brands, the globally popular ones first."""
    categories = set(preferences.get("categories") or [])
    brands = set(preferences.get("brands") or [])
    if not categories and not brands:
        return []
    popularity = {sources._item(k): s for k, s in popular.get("") or []}
    chosen = []
    for item_id, item in catalog.items.items():
        match = next((c for c in catalog.categories(item_id) if c in categories), None)
        if match is None and item.get("brand") and features.clean(item["brand"]) in brands:
            match = features.clean(item["brand"])
        if match is not None:
            chosen.append(Candidate(item_id, popularity.get(item_id, 0.0), "popular", f"popular in {match}, which you chose"))
    chosen.sort(key=lambda c: (-c.score, c.item_id))
    return chosen[:n]


def _explore(picked: list[Candidate], kept: list[Candidate], catalog: CatalogIndex, signals: ranking.Signals,
             config: RecommendConfig) -> list[Candidate] | None:
    """The list with the best remaining candidate from a category neither in it nor among the person's top
    three put at ``exploration.position``; None when there is no such candidate."""
    taken = {c.item_id for c in picked}
    usual = {catalog.category.get(c.item_id) for c in picked} | set(sorted(signals.category, key=signals.category.get)[-3:])
    for candidate in kept:
        category = catalog.category.get(candidate.item_id)
        if candidate.item_id not in taken and category is not None and category not in usual:
            explore = Candidate(candidate.item_id, candidate.score, "rule", f"something different: {category}")
            position = min(config.exploration.position, len(picked))
            return picked[:position] + [explore] + picked[position:]
    return None


def _non_personalized(catalog: CatalogIndex, trending: Sequence[tuple[str, float]],
                      popular: Mapping[str, Sequence[tuple[str, float]]], request: Request, count: int, now: float,
                      config: RecommendConfig) -> Result:
    n = max(config.candidates.per_source, 4 * count)
    mixed = sources.mix([sources.trending(trending, n), sources.popular(popular, (), n)], config.candidates)
    ctx = filters.FilterContext(catalog, now, excluded=frozenset(request.exclude))
    kept, removed = filters.apply(mixed, ctx, filters=(("unavailable", filters.unavailable), ("excluded", filters.excluded)))
    if not kept:
        result = _default(catalog, request, count, now, config)
        return Result(result.items, None, True, "opted_out", False, removed)
    return Result(_items(diversity.rerank(kept, count, catalog, config.diversity)), None, True, "opted_out", False, removed)


def _default(catalog: CatalogIndex, request: Request, count: int, now: float, config: RecommendConfig) -> Result:
    """Nothing to go on: the newest available items of the catalog."""
    items = [i for i in catalog.items.values() if catalog.available(i["item_id"]) and i["item_id"] not in request.exclude]
    items.sort(key=lambda i: (-float(i.get("created_at") or 0.0), i["item_id"]))
    chosen = [Candidate(i["item_id"], 0.0, "rule", "new in the catalog") for i in items]
    return Result(_items(diversity.rerank(chosen, count, catalog, config.diversity)), None, True, "empty", True)


def _items(candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    return [{"item_id": c.item_id, "score": round(c.score, 4), "source": c.source, "reason": c.reason}
            for c in candidates]
