"""What conditions see: the variables ``event``, ``profile``, ``session``, ``now`` and the helper functions,
built once per event into one ``cel.Context`` that every condition evaluated on that event shares.

Variables (documented fields are always present: a missing one reads as its default below, so
``event.category == "shoes"`` is simply false on an event without a category; an undocumented or nested
missing key is a runtime error, counted as such; ``event.traits`` are bounded as a profile's are)::

    event    type, name, item_ids, category, brand, tags, price, dwell_ms, scroll_depth, page_path,
             page_type, page_url, event_time, device_type, locale, campaign{...}, traits{...}
    profile  traits{}, counts{label: n}, segments[], intent{browse, research, purchase, abandonment},
             affinities{category: {c: score}, brand: {...}}, cart{items[], categories[], value},
             purchases, consent{}
    session  started_at, duration_s, page_count, pages[{page_type, path, dwell_ms, scroll_depth}],
             current_page_dwell_s, max_scroll, events, bounce, quick_exit, converted, exit_page_type
    now      the event time, epoch seconds (double)

Helpers (windows are durations, ``"10m"``; counts come from the caller's ``signals.count(key, seconds)``)::

    count(label, window)           events with that label (track name, or page/screen/...)   key event:<label>
    count_item(item_id, window)    events on that item                                       key item:<id>
    count_category(cat, window)    events in that category                                   key category:<c>
    page_dwell_s()                 visible dwell on the current page, seconds: session.current_page_dwell_s,
                                   else event.dwell_ms / 1000, else 0
    has_segment(name)              name in profile.segments

Converting Python values into CEL is the dominant cost (~2 us per string or float, ~17 us per page dict:
``session.pages`` of 20 pages costs ~350 us, bench/rules_micro.py), so a scope converts only the
fields that the conditions it will evaluate read, at every depth (``cel_source.field_selection``:
``profile.cart.value`` converts one number, not the cart's items): index rules that read
``session.pages`` or other long lists, or they cost that on every event.
Helper results are memoized per event (every rule asking ``count("Cart Viewed", "1h")`` costs one
``signals.count``) and each condition's calls are recorded: they are the why of a match.
"""

from __future__ import annotations

import json
import math
from itertools import islice
from typing import Any, Callable, Mapping, Protocol

import cel
import orjson

from tastemaker.rules.cel_source import Selection, select
from tastemaker.rules.durations import parse_duration
from tastemaker.traits import TraitsConfig

VARIABLES = ("event", "profile", "session", "now")
HELPER_ARITY = {"count": 2, "count_item": 2, "count_category": 2, "page_dwell_s": 0, "has_segment": 1}
WINDOWED_HELPERS = {"count": "event:", "count_item": "item:", "count_category": "category:"}

DEFAULTS: dict[str, dict[str, Any]] = {
    "event": {
        "type": None, "name": None, "item_ids": [], "category": None, "brand": None, "tags": [], "price": None,
        "dwell_ms": None, "scroll_depth": None, "page_path": None, "page_type": None, "page_url": None,
        "event_time": None, "device_type": None, "locale": None, "campaign": {}, "traits": {},
    },
    "profile": {
        "traits": {}, "counts": {}, "segments": [], "intent": {}, "affinities": {},
        "cart": {"items": [], "categories": [], "value": 0.0}, "purchases": 0, "consent": {},
    },
    "session": {
        "started_at": None, "duration_s": 0, "page_count": 0, "pages": [], "current_page_dwell_s": None,
        "max_scroll": None, "events": 0, "bounce": False, "quick_exit": False, "converted": False,
        "exit_page_type": None,
    },
}

MAX_WHY_VALUE_CHARS = 200  # a why value bigger than this is summarized ("<list of 37>")


class Signals(Protocol):
    """The caller's windowed counters: events per key within the last ``window_seconds``."""

    def count(self, key: str, window_seconds: int) -> int: ...


class NoSignals:
    def count(self, key: str, window_seconds: int) -> int:
        return 0


def sample_context() -> dict[str, Any]:
    """A realistic, complete context: documents what conditions can read, and rules are test-evaluated
    against it when parsed (see conditions.py)."""
    now = 1_795_737_720.0
    return {
        "event": {
            "type": "track", "name": "Product Viewed", "item_ids": ["sku-1"], "category": "shoes", "brand": "acme",
            "tags": ["sale"], "price": 59.9, "dwell_ms": 12_000, "scroll_depth": 0.6, "page_path": "/p/sku-1",
            "page_type": "product", "page_url": "https://shop.example/p/sku-1", "event_time": now,
            "device_type": "mobile", "locale": "en-US", "campaign": {"source": "newsletter", "medium": "email",
                                                                     "name": "spring"},
            "traits": {"plan": "free"},
        },
        "profile": {
            "traits": {"plan": "free"}, "counts": {"page": 12, "Product Viewed": 5}, "segments": ["bargain-hunter"],
            "intent": {"browse": 0.4, "research": 0.3, "purchase": 0.2, "abandonment": 0.1},
            "affinities": {"category": {"shoes": 0.8}, "brand": {"acme": 0.5}},
            "cart": {"items": [{"id": "sku-1", "price": 59.9, "qty": 1, "category": "shoes"}],
                     "categories": ["shoes"], "value": 59.9},
            "purchases": 1, "consent": {"personalization": True},
        },
        "session": {
            "started_at": now - 600, "duration_s": 600, "page_count": 3,
            "pages": [{"page_type": "home", "path": "/", "dwell_ms": 8_000, "scroll_depth": 0.5},
                      {"page_type": "product", "path": "/p/sku-1", "dwell_ms": 12_000, "scroll_depth": 0.6}],
            "current_page_dwell_s": 12.0, "max_scroll": 0.6, "events": 7, "bounce": False, "quick_exit": False,
            "converted": False, "exit_page_type": None,
        },
        "now": now,
    }


def with_defaults(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**DEFAULTS[name], **(value or {})}


def bounded_traits(traits: Any, config: TraitsConfig = TraitsConfig()) -> dict[str, Any]:
    """An event's traits as conditions see them: within the bounds a profile keeps traits in
    (tastemaker/traits.py: the first 30 names of at most 64 characters, strings cut to 128 characters,
    lists and objects kept only within 128 characters of JSON), so that reading them has a bounded cost
    (cost.py). Only the first 4 x 30 entries are looked at."""
    if not isinstance(traits, Mapping):
        return {}
    kept: dict[str, Any] = {}
    for key, value in islice(traits.items(), 4 * config.max_keys):
        if len(kept) >= config.max_keys:
            break
        if not isinstance(key, str) or not key or len(key) > config.key_max_chars or key in config.excluded:
            continue
        if isinstance(value, str):
            kept[key] = value[: config.value_max_chars]
        elif value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
            kept[key] = value
        elif isinstance(value, (list, dict)):
            try:
                fits = len(orjson.dumps(value)) <= config.value_max_chars
            except (TypeError, orjson.JSONEncodeError):
                fits = False
            if fits:
                kept[key] = value
    return kept


# What the helpers read of the profile when no condition reads the profile itself.
PROFILE_FOR_HELPERS: Selection = {"segments": None}


class Scope:
    """One event's evaluation scope. ``fields``: per variable, the fields to convert (a selection,
    cel_source.py; None: all); variables not in it are not given to CEL."""

    def __init__(self, event: Mapping[str, Any], profile: Mapping[str, Any] | None,
                 session: Mapping[str, Any] | None, signals: Signals | None, now: float,
                 fields: Mapping[str, Selection | None]):
        self.values: dict[str, Any] = {
            "event": with_defaults("event", event), "profile": with_defaults("profile", profile),
            "session": with_defaults("session", session), "now": float(now),
        }
        self.signals = signals or NoSignals()
        self.memo: dict[Any, Any] = {}  # helper call -> result, shared by every condition on this event
        self.used: list[Any] = []  # the helper calls made by the condition being evaluated
        variables = {name: select(self.values[name], selection) for name, selection in fields.items()}
        event_fields = fields.get("event", {})
        if "event" in fields and (event_fields is None or "traits" in event_fields) and variables["event"].get("traits"):
            variables["event"] = {**variables["event"], "traits": bounded_traits(variables["event"]["traits"])}
        self.context = cel.Context(variables=variables, functions=self._functions())

    def _functions(self) -> dict[str, Callable[..., Any]]:
        def windowed(helper: str) -> Callable[[str, Any], int]:
            prefix = WINDOWED_HELPERS[helper]

            def call(key: str, window: Any) -> int:
                return self._memo((helper, key, window),
                                  lambda: int(self.signals.count(prefix + str(key), _window_seconds(window))))
            return call

        return {
            **{helper: windowed(helper) for helper in WINDOWED_HELPERS},
            "page_dwell_s": lambda: self._memo(("page_dwell_s",), self._page_dwell_s),
            "has_segment": lambda name: self._memo(
                ("has_segment", name), lambda: name in (self.values["profile"].get("segments") or [])),
        }

    def _memo(self, call: tuple, compute: Callable[[], Any]) -> Any:
        """``call``: (helper, *arguments); the why shows it as ``helper("arg", ...)`` (formatted only then)."""
        try:
            hash(call)
            key: Any = call
        except TypeError:  # an argument CEL gave as a list or map: keyed by its text
            key = _call_text(call)
        if key not in self.memo:
            self.memo[key] = compute()
        self.used.append(key)
        return self.memo[key]

    def _page_dwell_s(self) -> float:
        dwell = self.values["session"].get("current_page_dwell_s")
        if isinstance(dwell, (int, float)) and not isinstance(dwell, bool):
            return float(dwell)
        dwell_ms = self.values["event"].get("dwell_ms")
        if isinstance(dwell_ms, (int, float)) and not isinstance(dwell_ms, bool):
            return dwell_ms / 1000.0
        return 0.0

    def run(self, program: cel.Program) -> Any:
        """The program's result; CEL's exceptions propagate (the caller counts them)."""
        self.used = []
        return program.execute(self.context)

    def why(self, path_list: list[str]) -> dict[str, Any]:
        """The helper calls the last condition made and the values of the paths it reads."""
        why = {key if isinstance(key, str) else _call_text(key): self.memo[key] for key in self.used}
        for path in path_list:
            why[path] = summarize(resolve(self.values, path))
        return why


def _call_text(call: tuple) -> str:
    helper, *args = call
    return f"{helper}({','.join(json.dumps(arg, ensure_ascii=False, default=str) for arg in args)})"


def _window_seconds(window: Any) -> int:
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window  # a computed window in seconds
    return parse_duration(window)


def resolve(values: Mapping[str, Any], path: str) -> Any:
    value: Any = values
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def summarize(value: Any) -> Any:
    """A why value small enough to store with a firing."""
    if isinstance(value, str):
        return value if len(value) <= MAX_WHY_VALUE_CHARS else value[:MAX_WHY_VALUE_CHARS] + "..."
    if isinstance(value, (list, dict)):
        # Containers of more than 10 entries are summarized without serializing them (why runs per match).
        if len(value) > 10 or len(json.dumps(value, default=str)) > MAX_WHY_VALUE_CHARS:
            return f"<list of {len(value)}>" if isinstance(value, list) else f"<map of {len(value)} keys>"
    return value
