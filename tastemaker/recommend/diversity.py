"""Diversity re-ranking: a list that is not ten variations of one thing.

``category_cap``: walk candidates best first, skip one whose main category already fills
``ceil(max_category_share * count)`` places (at least 1); if that leaves the list short (too few
categories), fill it with the best skipped ones. Simple, predictable, and what merchandisers ask for.

``mmr`` (maximal marginal relevance, Carbonell & Goldstein 1998): repeatedly pick
``argmax lambda * score(i) - (1 - lambda) * max_{j picked} sim(i, j)``, with ``sim`` the Jaccard of
content tokens (cheap, needs no model). Scores are min-max normalised first so lambda means the same on
every list. The category cap is applied on top, so the configured share holds with either method.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, TypeVar

from tastemaker.recommend.catalog_index import CatalogIndex
from tastemaker.recommend.config import DiversityConfig

T = TypeVar("T")
DEFAULT = DiversityConfig()


def category_limit(count: int, share: float) -> int:
    return max(1, math.ceil(share * count))


def rerank(candidates: Sequence[T], count: int, catalog: CatalogIndex, config: DiversityConfig = DEFAULT,
           item_id_of: Callable[[T], str] = lambda c: c.item_id,
           score_of: Callable[[T], float] = lambda c: c.score) -> list[T]:
    """``count`` candidates (or fewer, if fewer exist) from ``candidates`` sorted best first."""
    ordered = list(candidates)
    if config.method == "mmr":
        ordered = _mmr(ordered, min(len(ordered), count * 3), catalog, config.mmr_lambda, item_id_of, score_of)
    limit = category_limit(count, config.max_category_share)
    picked: list[T] = []
    skipped: list[T] = []
    per_category: dict[str | None, int] = {}
    for candidate in ordered:
        if len(picked) == count:
            break
        category = catalog.category.get(item_id_of(candidate))
        if category is not None and per_category.get(category, 0) >= limit:
            skipped.append(candidate)
            continue
        per_category[category] = per_category.get(category, 0) + 1
        picked.append(candidate)
    return picked + skipped[: count - len(picked)]


def _mmr(candidates: list[T], n: int, catalog: CatalogIndex, lam: float, item_id_of, score_of) -> list[T]:
    if not candidates:
        return []
    scores = [score_of(c) for c in candidates]
    low, high = min(scores), max(scores)
    norm = [(s - low) / (high - low) if high > low else 1.0 for s in scores]
    tokens = [catalog.tokens.get(item_id_of(c), frozenset()) for c in candidates]
    redundancy = [0.0] * len(candidates)
    remaining = set(range(len(candidates)))
    order: list[int] = []
    while remaining and len(order) < n:
        best = max(remaining, key=lambda k: (lam * norm[k] - (1 - lam) * redundancy[k], -k))
        order.append(best)
        remaining.discard(best)
        for k in remaining:
            union = tokens[k] | tokens[best]
            if union:
                redundancy[k] = max(redundancy[k], len(tokens[k] & tokens[best]) / len(union))
    return [candidates[k] for k in order] + [c for k, c in enumerate(candidates) if k in remaining]
