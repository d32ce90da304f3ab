"""Feature tokens: catalog items and a person's context as the string features LightFM embeds.

Item tokens (``item_features``): ``category:<c>`` per category, ``tag:<t>`` per tag, ``brand:<b>``,
``price:<bucket>`` (log2 buckets, so 9.99 and 12 share one and 15 and 300 do not), and the
``attr:<name>=<value>`` of short string attributes. An item's model representation is the mean of the
embeddings of its tokens (and of its id, once trained), which is what lets a new item be scored before
anyone interacts with it.

Person tokens (``user_features``): ``device:``, ``locale:`` (and ``lang:``, its language), ``referrer:``
(host only), ``campaign:source`` / ``campaign:medium`` and onboarding answers (``pref:category:<c>``,
``pref:brand:<b>``). Trained on the context of each person's interactions, they give a new visitor's
vector from where they come from.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

MAX_TOKEN_CHARS = 64
MAX_ATTRIBUTES = 8
CONTENT_PREFIXES = ("category:", "tag:", "brand:")


def clean(value: Any) -> str:
    return str(value).strip().lower()[:MAX_TOKEN_CHARS]


def price_bucket(price: float | None) -> str | None:
    """``price:<n>`` with n = floor(log2(price)): buckets double in width, as price sensitivity does."""
    if price is None or not isinstance(price, (int, float)) or price <= 0 or math.isnan(price):
        return None
    return f"price:{math.floor(math.log2(price))}"


def item_tokens(item: Mapping[str, Any]) -> list[str]:
    """Feature tokens of a catalog item ``{item_id, categories, tags, brand, price, attributes, ...}``,
    without duplicates, in a stable order."""
    tokens: list[str] = []
    tokens += [f"category:{clean(c)}" for c in item.get("categories") or [] if c]
    tokens += [f"tag:{clean(t)}" for t in item.get("tags") or [] if t]
    if item.get("brand"):
        tokens.append(f"brand:{clean(item['brand'])}")
    bucket = price_bucket(item.get("price"))
    if bucket:
        tokens.append(bucket)
    for name, value in list((item.get("attributes") or {}).items())[:MAX_ATTRIBUTES]:
        if isinstance(value, (str, int, bool)) and len(str(value)) <= 32:
            tokens.append(f"attr:{clean(name)}={clean(value)}")
    return list(dict.fromkeys(tokens))


def content_tokens(item: Mapping[str, Any]) -> frozenset[str]:
    """The tokens that say what an item is about (categories, tags, brand): content similarity reads these."""
    return frozenset(t for t in item_tokens(item) if t.startswith(CONTENT_PREFIXES))


def main_category(item: Mapping[str, Any]) -> str | None:
    categories = item.get("categories") or []
    return clean(categories[0]) if categories else None


def context_tokens(context: Mapping[str, Any] | None, preferences: Mapping[str, Iterable[str]] | None = None) -> list[str]:
    """Person tokens from a context (a profile's ``last_context`` or a request's: device, locale, referrer,
    campaign) and onboarding ``preferences`` ({"categories": [...], "brands": [...]})."""
    context = context or {}
    tokens: list[str] = []
    if context.get("device"):
        tokens.append(f"device:{clean(context['device'])}")
    if context.get("locale"):
        locale = clean(context["locale"]).replace("_", "-")
        tokens += [f"locale:{locale}", f"lang:{locale.split('-')[0]}"]
    if context.get("referrer"):
        host = urlsplit(str(context["referrer"])).hostname or clean(context["referrer"])
        tokens.append(f"referrer:{clean(host.removeprefix('www.'))}")
    campaign = context.get("campaign") or {}
    for part in ("source", "medium"):
        if campaign.get(part):
            tokens.append(f"campaign:{part}={clean(campaign[part])}")
    preferences = preferences or {}
    tokens += [f"pref:category:{clean(c)}" for c in preferences.get("categories") or [] if c]
    tokens += [f"pref:brand:{clean(b)}" for b in preferences.get("brands") or [] if b]
    return list(dict.fromkeys(tokens))
