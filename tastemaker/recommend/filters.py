"""Business filters and user controls: what must never be recommended, whatever its score.

Each filter is a predicate ``(item_id, context) -> bool`` (True: remove) with a name; ``apply`` keeps the
candidates no filter removes and counts the removals per filter (for the response's debug and metrics).

    unavailable       not in the catalog, or ``available`` is false
    purchased         in one of the person's orders (profile ``purchases``)
    in_cart           in the person's cart (they have it already; the cart page shows it)
    excluded          named by the request (``exclude``: the item on the page, items shown elsewhere)
    not_interested    hidden by the person, or in a category they hid
    rested            frequency-capped (caps.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, TypeVar

from tastemaker.recommend import caps
from tastemaker.recommend.catalog_index import CatalogIndex


@dataclass
class FilterContext:
    catalog: CatalogIndex
    now: float
    purchased: frozenset[str] = frozenset()
    in_cart: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    hidden_items: frozenset[str] = frozenset()
    hidden_categories: frozenset[str] = frozenset()
    cap_state: Mapping[str, list] = field(default_factory=dict)


def unavailable(item_id: str, ctx: FilterContext) -> bool:
    return not ctx.catalog.available(item_id)


def purchased(item_id: str, ctx: FilterContext) -> bool:
    return item_id in ctx.purchased


def in_cart(item_id: str, ctx: FilterContext) -> bool:
    return item_id in ctx.in_cart


def excluded(item_id: str, ctx: FilterContext) -> bool:
    return item_id in ctx.excluded


def not_interested(item_id: str, ctx: FilterContext) -> bool:
    if item_id in ctx.hidden_items:
        return True
    return bool(ctx.hidden_categories) and any(c in ctx.hidden_categories for c in ctx.catalog.categories(item_id))


def rested(item_id: str, ctx: FilterContext) -> bool:
    return caps.rested(ctx.cap_state, item_id, ctx.now)


FILTERS: tuple[tuple[str, Callable[[str, FilterContext], bool]], ...] = (
    ("unavailable", unavailable), ("purchased", purchased), ("in_cart", in_cart), ("excluded", excluded),
    ("not_interested", not_interested), ("rested", rested))

T = TypeVar("T")


def apply(candidates: Iterable[T], ctx: FilterContext, item_id_of: Callable[[T], str] = lambda c: c.item_id,
          filters: Iterable[tuple[str, Callable[[str, FilterContext], bool]]] = FILTERS) -> tuple[list[T], dict[str, int]]:
    """The candidates no filter removes (order kept), and how many each filter removed (first match)."""
    filters = tuple(filters)
    kept: list[T] = []
    removed: dict[str, int] = {}
    for candidate in candidates:
        item_id = item_id_of(candidate)
        for name, remove in filters:  # a plain loop: per candidate, a generator costs as much as the filters
            if remove(item_id, ctx):
                removed[name] = removed.get(name, 0) + 1
                break
        else:
            kept.append(candidate)
    return kept, removed
