"""A person's cart, from Segment e-commerce events: Product Added, Product Removed, Cart Viewed, Order Completed.

State (JSON, bounded)::

    {"items": {"sku-1": [2, 19.9, "shoes", "Acme", 1795737720.7], ...},
                             item id: [quantity, unit price or None, category or None, brand or None, added at]
     "value": 39.8,          sum of quantity x price of the priced items
     "cleared_at": t}        the latest order's time, or None

Product Added with one item id takes its quantity (default 1) and price; with several (a products[] list)
each gets quantity 1 and no price (the normalized event has one price). Product Removed subtracts its
quantity (one item id with a quantity) or removes the items. Cart Viewed lists the whole cart: items not in
it are dropped, new ones added with quantity 1; a Cart Viewed without item ids says nothing. Order Completed
empties the cart of the items added up to its time, so an add that arrives late but happened before the
order stays out; merging two carts applies both persons' orders to both carts the same way. At most
``max_items`` items: adding past that drops the item added longest ago.
"""

from __future__ import annotations

from typing import Any, Mapping

QUANTITY, PRICE, CATEGORY, BRAND, ADDED_AT = range(5)


def empty() -> dict[str, Any]:
    return {"items": {}, "value": 0.0, "cleared_at": None}


def _number(value: float | None, default: float) -> float:
    value = default if value is None else value
    return int(value) if float(value).is_integer() else value  # 2 rather than 2.0: smaller JSON


def _with_items(cart: Mapping[str, Any], items: dict[str, list], max_items: int) -> dict[str, Any]:
    if len(items) > max_items:
        newest = sorted(items.items(), key=lambda kv: (kv[1][ADDED_AT], kv[0]), reverse=True)[:max_items]
        items = dict(newest)
    value = sum(item[QUANTITY] * item[PRICE] for item in items.values() if item[PRICE] is not None)
    return {**cart, "items": items, "value": round(value, 2)}


def add(cart: Mapping[str, Any] | None, event: Mapping[str, Any], max_items: int) -> dict[str, Any]:
    cart = cart or empty()
    at, ids = event["event_time"], event.get("item_ids") or []
    if not ids or (cart["cleared_at"] is not None and at <= cart["cleared_at"]):
        return dict(cart)
    single = len(ids) == 1
    quantity = _number(event.get("quantity") if single else None, 1)
    price = event.get("price") if single else None
    items = dict(cart["items"])
    for item_id in ids:
        old = items.get(item_id)
        if old is None:
            items[item_id] = [quantity, price, event.get("category"), event.get("brand"), at]
        else:
            items[item_id] = [old[QUANTITY] + quantity, old[PRICE] if price is None else price,
                              event.get("category") or old[CATEGORY], event.get("brand") or old[BRAND],
                              max(old[ADDED_AT], at)]
    return _with_items(cart, items, max_items)


def remove(cart: Mapping[str, Any] | None, event: Mapping[str, Any], max_items: int) -> dict[str, Any]:
    cart = cart or empty()
    ids = event.get("item_ids") or []
    items = dict(cart["items"])
    quantity = event.get("quantity") if len(ids) == 1 else None
    for item_id in ids:
        old = items.get(item_id)
        if old is None:
            continue
        left = old[QUANTITY] - quantity if quantity else 0
        if left > 0:
            items[item_id] = [_number(left, 0), *old[1:]]
        else:
            del items[item_id]
    return _with_items(cart, items, max_items)


def viewed(cart: Mapping[str, Any] | None, event: Mapping[str, Any], max_items: int) -> dict[str, Any]:
    cart = cart or empty()
    ids = event.get("item_ids") or []
    if not ids:
        return dict(cart)
    known = cart["items"]
    items = {i: known[i] if i in known else [1, None, None, None, event["event_time"]] for i in ids}
    return _with_items(cart, items, max_items)


def clear(cart: Mapping[str, Any] | None, at: float, max_items: int) -> dict[str, Any]:
    """The cart after an order at ``at``: what was added after it stays."""
    cart = cart or empty()
    cleared_at = at if cart["cleared_at"] is None else max(cart["cleared_at"], at)
    items = {i: item for i, item in cart["items"].items() if item[ADDED_AT] > cleared_at}
    return _with_items({**cart, "cleared_at": cleared_at}, items, max_items)


def merge(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, max_items: int) -> dict[str, Any]:
    a, b = a or empty(), b or empty()
    items = dict(a["items"])
    for item_id, item in b["items"].items():
        old = items.get(item_id)
        if old is None:
            items[item_id] = list(item)
        else:
            later, earlier = (item, old) if item[ADDED_AT] >= old[ADDED_AT] else (old, item)
            items[item_id] = [_number(old[QUANTITY] + item[QUANTITY], 0),
                              later[PRICE] if later[PRICE] is not None else earlier[PRICE],
                              later[CATEGORY] or earlier[CATEGORY], later[BRAND] or earlier[BRAND],
                              later[ADDED_AT]]
    cleared = [t for t in (a["cleared_at"], b["cleared_at"]) if t is not None]
    cleared_at = max(cleared) if cleared else None
    if cleared_at is not None:  # each person's latest order empties the other's older items too
        items = {i: item for i, item in items.items() if item[ADDED_AT] > cleared_at}
    return _with_items({"cleared_at": cleared_at}, items, max_items)
