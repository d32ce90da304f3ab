"""What a person is about to do in this session: browse, research, purchase, abandonment_risk, each in [0, 1].

Model: per intent, a clipped weighted sum ``clip(sum(weight_s * signal_s), 0, 1)`` of signals that are each
in [0, 1]. Chosen over a logistic because every term reads directly as points of the score ("funnel_steps
+0.25, idle -0.10"), which ``explain`` returns as the why, and a weight is the most a signal can move the
score; its cost is saturation (a score at 1 stays there while more evidence comes in).

Features (``features_from(profile, session, now)``) come from two places, and nowhere else:

- ``session``: the person's open session as tastemaker/sessions.py keeps it (``state["current"]``; None when
  no session is open): its ``page_types`` counts, its ``pages`` (type, time, visible ``dwell_ms`` and
  ``scroll_depth`` from the engagement heartbeats), ``start`` and ``end``;
- ``profile`` (tastemaker/profile.py): the cart (items with their ``added_at``) and ``recent`` events, whose
  track events named as the view of a page type ("Cart Viewed", "Checkout Started", "Order Completed"; the
  names of tastemaker/page_types.py) inside the session's time window are steps too.

Steps, the session's page-type path: its page views (``pages``, in time order) and those track events, a
track event within ``step_dedupe_s`` of a page view of the same type being that page view (a cart page and
its "Cart Viewed" are one step). ``recent`` holds the latest ``ProfileConfig.recent_max`` events only, so in
a long session its earliest track steps may be missing; ``pages`` keeps the entry page and the latest
(sessions ``SessionConfig.max_pages``), so ``engaged`` and ``scroll`` may miss pages in between.

Signals, from the features, a count or duration saturating at its ``*_full`` value::

    product_views   product steps in the session       listing_views  category and search steps
    article_views   article steps                      article_streak consecutive articles ending the path
    funnel_steps    cart and checkout steps since the session's last order (confirmation step)
    cart_items      items in the cart                  no_cart        1 when the cart is empty
    cart_adds       cart items added in the session    cart_age       time since the newest cart item was added
    page_dwell      visible dwell of the latest page   scroll         mean deepest scroll of the session's pages
    engaged         visible dwell of the whole session idle           time since the session's last event
    quick_exit      1 when the last step is cart/checkout, the latest page was seen for under
                    quick_exit_dwell_s, and nothing has happened since for quick_exit_idle_s

``cart_adds`` and ``cart_age`` read the cart, not the events: an item added, then removed or bought, no
longer counts, and a cart filled in an earlier session is as old as its newest item (a Cart Viewed listing
an item the cart did not hold counts as adding it).

Navigation-path signals (counts, streak, funnel) and time signals (dwell, scroll, engagement, idle) meet in
the same sum: e.g. research is a run of articles *and* long, deep reading. ``idle`` with a weight of -1 fades
browse, research and purchase to 0 over ``idle_full`` (a session over is no longer an intent), while it
raises abandonment_risk, which is 0 with an empty cart (nothing to abandon: shown by explain as an
``empty_cart`` term cancelling the rest). Without an open session (none yet, or closed) there is no path and
``idle`` is full: only the cart speaks, through abandonment_risk.

Computed when read (tastemaker.profile.refresh_intent, public_view), at the reader's clock: ``idle`` keeps
growing after the last event. Weights naming an unknown signal are refused when the config is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, TypedDict

from tastemaker.cart import ADDED_AT, QUANTITY
from tastemaker.page_types import ARTICLE, CART, CATEGORY, CHECKOUT, CONFIRMATION, PRODUCT, SEARCH, PageTypes

INTENTS = ("browse", "research", "purchase", "abandonment_risk")
SIGNALS = ("product_views", "listing_views", "article_views", "article_streak", "funnel_steps", "cart_items",
           "no_cart", "cart_adds", "cart_age", "page_dwell", "scroll", "engaged", "idle", "quick_exit")
FUNNEL_TYPES = (CART, CHECKOUT)
PAGE_VIEW_LABELS = ("page", "screen")  # recent events whose steps are the session's pages


class IntentFeatures(TypedDict):
    """What intent is computed from; a caller without a profile can build it by hand."""

    product_views: int
    listing_views: int
    article_views: int
    article_streak: int
    funnel_steps: int
    in_funnel: bool  # the last step is a cart or checkout step
    cart_items: float
    cart_adds: int  # cart items added in the session
    since_cart_add_s: float | None  # since the newest cart item was added (None: empty cart)
    page_dwell_s: float  # visible dwell of the session's latest page
    avg_scroll: float  # 0..1
    engaged_s: float
    session_s: float
    idle_s: float  # since the session's last event (inf: no open session)


def _weights(**weights: float) -> Mapping[str, float]:
    return MappingProxyType(weights)


@dataclass(frozen=True)
class IntentConfig:
    product_views_full: float = 6
    """Product steps in a session at which product_views is full."""
    listing_views_full: float = 3
    """Category and search steps at which listing_views is full."""
    article_views_full: float = 4
    """Article steps at which article_views is full."""
    article_streak_full: float = 3
    """Consecutive article steps at which article_streak is full."""
    funnel_steps_full: float = 4
    """Cart and checkout steps at which funnel_steps is full (cart, checkout, shipping, payment)."""
    cart_items_full: float = 3
    """Items in the cart at which cart_items is full."""
    cart_adds_full: float = 2
    """Cart items added in a session at which cart_adds is full."""
    cart_age_full_s: float = 3600.0
    """Seconds since the newest cart item was added at which cart_age is full."""
    page_dwell_full_s: float = 60.0
    """Visible seconds on the latest page at which page_dwell is full."""
    engaged_full_s: float = 300.0
    """Visible seconds in the session at which engaged is full."""
    idle_full_s: float = 1800.0
    """Seconds since the last event at which idle is full: the session is over (sessions' idle_timeout)."""
    quick_exit_dwell_s: float = 10.0
    """A cart or checkout page seen for less than this many visible seconds counts as a quick exit..."""
    quick_exit_idle_s: float = 60.0
    """...once nothing else has happened for this many seconds."""
    step_dedupe_s: float = 10.0
    """A track step this close to a page view of the same type is that page view's step, seconds."""
    page_types: PageTypes = field(default_factory=PageTypes)
    """Which track event names are the view of a page type (its ``of_name``)."""
    browse: Mapping[str, float] = field(default_factory=lambda: _weights(
        product_views=0.35, listing_views=0.3, no_cart=0.2, article_streak=-0.2, funnel_steps=-0.4, idle=-1.0))
    """Browse: many product and listing pages with nothing in the cart; less for reading and checking out."""
    research: Mapping[str, float] = field(default_factory=lambda: _weights(
        article_streak=0.3, article_views=0.2, page_dwell=0.2, scroll=0.2, engaged=0.15, funnel_steps=-0.2,
        idle=-1.0))
    """Research: articles in a row, long visible dwell, deep scrolling."""
    purchase: Mapping[str, float] = field(default_factory=lambda: _weights(
        funnel_steps=0.5, cart_items=0.2, cart_adds=0.15, product_views=0.05, engaged=0.1, idle=-1.0))
    """Purchase: checkout steps above all, then a filled cart and fresh cart adds."""
    abandonment_risk: Mapping[str, float] = field(default_factory=lambda: _weights(
        idle=0.5, quick_exit=0.3, cart_age=0.15, funnel_steps=0.15))
    """Abandonment risk (0 with an empty cart): gone quiet, a quick exit from cart or checkout, a stale cart."""

    terms: tuple = field(init=False, repr=False, compare=False)
    """(intent, ((signal, weight), ...)) for each intent: the weights as ``score`` loops over them."""

    def __post_init__(self) -> None:
        unknown = {name for intent in INTENTS for name in getattr(self, intent)} - set(SIGNALS)
        if unknown:
            raise ValueError(f"intent weights name unknown signals: {sorted(unknown)} (known: {', '.join(SIGNALS)})")
        object.__setattr__(self, "terms", tuple((i, tuple(getattr(self, i).items())) for i in INTENTS))

    def weights(self, intent: str) -> Mapping[str, float]:
        return getattr(self, intent)


DEFAULT = IntentConfig()


def features_from(
    profile: Mapping[str, Any], session: Mapping[str, Any] | None = None, now: float | None = None,
    config: IntentConfig = DEFAULT,
) -> IntentFeatures:
    """The features of ``profile`` and its open ``session`` (a tastemaker/sessions.py session, or None) at
    ``now`` (default: the session's last event)."""
    items = ((profile.get("cart") or {}).get("items") or {}).values()
    cart_items = sum(item[QUANTITY] for item in items)
    newest_add = max((item[ADDED_AT] for item in items), default=None)
    if now is None:
        now = session["end"] if session else newest_add
    since_add = None if newest_add is None or now is None else max(0.0, now - newest_add)
    if not session:
        return IntentFeatures(product_views=0, listing_views=0, article_views=0, article_streak=0, funnel_steps=0,
                              in_funnel=False, cart_items=cart_items, cart_adds=0, since_cart_add_s=since_add,
                              page_dwell_s=0.0, avg_scroll=0.0, engaged_s=0.0, session_s=0.0, idle_s=float("inf"))
    pages, counts = session["pages"], dict(session["page_types"])
    path = _steps(profile, session, counts, config)
    streak = 0
    for step in reversed(path):
        if step != ARTICLE:
            break
        streak += 1
    funnel = 0
    for step in reversed(path):
        if step == CONFIRMATION:
            break
        funnel += step in FUNNEL_TYPES
    scrolls = [page["scroll_depth"] for page in pages if page.get("scroll_depth") is not None]
    return IntentFeatures(
        product_views=counts.get(PRODUCT, 0),
        listing_views=counts.get(CATEGORY, 0) + counts.get(SEARCH, 0),
        article_views=counts.get(ARTICLE, 0),
        article_streak=streak,
        funnel_steps=funnel,
        in_funnel=bool(path) and path[-1] in FUNNEL_TYPES,
        cart_items=cart_items,
        cart_adds=sum(1 for item in items if item[ADDED_AT] >= session["start"]),
        since_cart_add_s=since_add,
        page_dwell_s=(pages[-1].get("dwell_ms") or 0) / 1000 if pages else 0.0,
        avg_scroll=sum(scrolls) / len(scrolls) / 100 if scrolls else 0.0,
        engaged_s=sum(page.get("dwell_ms") or 0 for page in pages) / 1000,
        session_s=session["end"] - session["start"],
        idle_s=max(0.0, now - session["end"]),
    )


def _steps(profile: Mapping[str, Any], session: Mapping[str, Any], counts: dict[str, int],
           config: IntentConfig) -> list[str]:
    """The session's path of page types, oldest first: its pages and the track steps among the profile's
    recent events in its time window; ``counts`` (the session's page_types) gains the track steps."""
    start, end, dedupe = session["start"], session["end"], config.step_dedupe_s
    pages = session["pages"]
    timed = [(page["at"], 0, page["page_type"]) for page in pages]
    page_times: dict[str, list[float]] | None = None
    of_name = config.page_types.of_name
    for at, label, _ in profile.get("recent") or ():  # newest first
        if at < start:
            break
        if at > end or label in PAGE_VIEW_LABELS:
            continue
        step = of_name(label)
        if step is None:
            continue
        if page_times is None:
            page_times = {}
            for page_at, _, page_type in timed:
                page_times.setdefault(page_type, []).append(page_at)
        if any(abs(page_at - at) <= dedupe for page_at in page_times.get(step, ())):
            continue  # the step of a page view already there
        timed.append((at, 1, step))
        counts[step] = counts.get(step, 0) + 1
    if len(timed) > len(pages):
        timed.sort(key=lambda s: (s[0], s[1]))
    return [step for _, _, step in timed]


def signals(features: IntentFeatures, config: IntentConfig = DEFAULT) -> dict[str, float]:
    """Every signal of the module docstring, in [0, 1] (features are never negative)."""
    f, c = features, config
    since_add = f["since_cart_add_s"]
    return {
        "product_views": min(f["product_views"] / c.product_views_full, 1.0),
        "listing_views": min(f["listing_views"] / c.listing_views_full, 1.0),
        "article_views": min(f["article_views"] / c.article_views_full, 1.0),
        "article_streak": min(f["article_streak"] / c.article_streak_full, 1.0),
        "funnel_steps": min(f["funnel_steps"] / c.funnel_steps_full, 1.0),
        "cart_items": min(f["cart_items"] / c.cart_items_full, 1.0),
        "no_cart": 1.0 if f["cart_items"] <= 0 else 0.0,
        "cart_adds": min(f["cart_adds"] / c.cart_adds_full, 1.0),
        "cart_age": 0.0 if since_add is None else min(since_add / c.cart_age_full_s, 1.0),
        "page_dwell": min(f["page_dwell_s"] / c.page_dwell_full_s, 1.0),
        "scroll": min(max(f["avg_scroll"], 0.0), 1.0),
        "engaged": min(f["engaged_s"] / c.engaged_full_s, 1.0),
        "idle": min(f["idle_s"] / c.idle_full_s, 1.0),
        "quick_exit": 1.0 if (f["in_funnel"] and f["page_dwell_s"] < c.quick_exit_dwell_s
                              and f["idle_s"] >= c.quick_exit_idle_s) else 0.0,
    }


def explain(features: IntentFeatures, config: IntentConfig = DEFAULT) -> dict[str, dict[str, float]]:
    """Per intent, each term's contribution (weight x signal; zero ones left out), largest first. A score is
    its contributions' sum, clipped to [0, 1]."""
    values = signals(features, config)
    why: dict[str, dict[str, float]] = {}
    for intent in INTENTS:
        terms = {name: weight * values[name] for name, weight in config.weights(intent).items() if values[name]}
        if intent == "abandonment_risk" and values["no_cart"] and terms:
            terms["empty_cart"] = -sum(terms.values())
        why[intent] = {name: round(c, 4) for name, c in sorted(terms.items(), key=lambda t: -abs(t[1])) if c}
    return why


def score(features: IntentFeatures, config: IntentConfig = DEFAULT) -> dict[str, float]:
    """Each intent's score in [0, 1] (3 decimals)."""
    values = signals(features, config)
    scores: dict[str, float] = {}
    for intent, terms in config.terms:
        if intent == "abandonment_risk" and values["no_cart"]:
            scores[intent] = 0.0
            continue
        total = 0.0
        for name, weight in terms:
            total += weight * values[name]
        scores[intent] = round(min(max(total, 0.0), 1.0), 3)
    return scores
