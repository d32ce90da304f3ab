"""What conditions see: the variables ``event``, ``profile``, ``session``, ``now`` and the helper functions,
in one ``Scope`` per event that every condition evaluated on that event shares.

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

Compiled conditions (compiled.py, inlined.py: every condition whose parts they model, all of
rules/examples) read the Python values as given, converting nothing: a scope builds nothing until a
condition reads it (a profile or session given as a function is built when first read) and converts
nothing into CEL. Only a condition left to the cel library (what compiled.py does not model) gets a
``cel.Context``, built once per event when the first such condition runs; converting Python values into CEL
is then its dominant cost (~2 us per string or float, ~17 us per page dict: ``session.pages`` of 20 pages
costs ~350 us, bench/rules_micro.py), so that context converts only the fields the event's conditions read,
at every depth (``cel_source.field_selection``: ``profile.cart.value`` converts one number, not the cart's
items). A macro over a long list (``session.pages.exists(...)``) visits every element on every event it is
evaluated on either way: index rules that iterate long lists.

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
_WHY_JSON = json.JSONEncoder(default=str)  # json.dumps(value, default=str), without a new encoder per call


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

Given = Mapping[str, Any] | None | Callable[[], Mapping[str, Any] | None]
_MISSING = object()


class _Unloaded:
    """A Scope's profile or session before it is read."""

    def __repr__(self) -> str:
        return "UNLOADED"


UNLOADED: Any = _Unloaded()


class Scope:
    """One event's evaluation scope, shared by every condition evaluated on that event. ``profile`` and
    ``session`` may be given as functions of no arguments that build them: they are called once, when a
    condition (or a why) first reads them. ``fields``: per variable, the fields a ``cel.Context`` would
    convert (a selection, cel_source.py; None: all; variables not in it are not given to CEL): that context
    is built only if a condition is evaluated by the cel library (``run``).

    Compiled conditions (compiled.py) read the attributes ``event`` (as given), ``profile`` and ``session``
    (as given; UNLOADED until ``load``) and ``now``, and the methods below."""

    __slots__ = ("event", "profile", "session", "now", "signals", "memo", "used", "fields", "failure", "failed",
                 "_profile_given", "_session_given", "_values", "_traits", "_context", "_why", "_replay")

    def __init__(self, event: Mapping[str, Any], profile: Given, session: Given, signals: Signals | None,
                 now: float, fields: Mapping[str, Selection | None]):
        self.event = event or {}
        self.profile = self.session = UNLOADED
        self._profile_given, self._session_given = profile, session
        self.now = float(now)
        self.signals = signals or NoSignals()
        self.memo: dict[Any, Any] = {}  # helper call -> result, shared by every condition on this event
        self.used: list[Any] = []  # the helper calls made by the condition being evaluated
        self.fields = fields
        self.failure: Exception | None = None  # building a variable (or the CEL context) raised this
        self._values: dict[str, Any] = {}  # variable -> with its defaults (with_defaults), when first needed
        self._traits: Any = _MISSING
        self._context: cel.Context | None = None
        self._why: dict[Any, Any] = {}  # path (or paths) -> its why value (their values), computed once per event
        # The helper calls that raised while a compiled evaluator ran the condition at hand, (call, error),
        # replayed to the cel library, which then evaluates the condition (compiled.helper_failed).
        self.failed: list[tuple[tuple, Exception]] | None = None
        self._replay: dict[Any, list[Exception]] | None = None

    # -- the variables --
    def load(self, name: str) -> Mapping[str, Any]:
        """``profile`` or ``session`` as given (built now if given as a function). A builder's exception is
        kept in ``failure`` and propagates: it is the caller's, not a rule's (RuleSet.evaluate re-raises it)."""
        if self.failure is not None:
            raise self.failure
        given = self._profile_given if name == "profile" else self._session_given
        if callable(given):
            try:
                given = given()
            except Exception as error:
                self.failure = error
                raise
        value = given or {}
        setattr(self, name, value)
        return value

    def values(self, name: str) -> Any:
        """The variable with its defaults (``with_defaults``): what the why and the helpers read."""
        if name == "now":
            return self.now
        value = self._values.get(name)
        if value is None:
            given = self.event if name == "event" else self._loaded(name)
            value = self._values[name] = {**DEFAULTS[name], **given}
        return value

    def _loaded(self, name: str) -> Mapping[str, Any]:
        given = self.profile if name == "profile" else self.session
        return self.load(name) if given is UNLOADED else given

    def event_traits(self) -> Any:
        """``event.traits`` as conditions read it: the traits the event's conditions read (``fields``), then
        bounded (bounded_traits), as the CEL context has them. (So which names survive the bound of 30
        depends on which traits the conditions read: a condition reading ``event.traits.plan`` sees ``plan``
        even among 40 traits, unless another reads the traits whole.)"""
        if self._traits is _MISSING:
            traits = self.event.get("traits", _MISSING)
            if traits is _MISSING:
                traits = DEFAULTS["event"]["traits"]
            event_fields = self.fields.get("event")
            traits = select(traits, event_fields.get("traits") if event_fields is not None else None)
            self._traits = bounded_traits(traits) if traits else traits
        return self._traits

    def whole(self, name: str) -> Any:
        """The variable as a condition reading it whole sees it."""
        value = self.values(name)
        if name == "event" and value.get("traits"):
            value = {**value, "traits": self.event_traits()}
        return value

    # -- the helpers --
    def helper(self, call: tuple) -> Any:
        """``call``: (helper, *arguments). Memoized per event (``memo``) and recorded (``used``); the why shows
        it as ``helper("arg", ...)`` (formatted only then)."""
        key = _memo_key(call)
        value = self.memo.get(key, _MISSING)
        if value is _MISSING:
            return self.fresh(key, call)
        self.used.append(key)
        return value

    def fresh(self, key: Any, call: tuple) -> Any:
        """A helper call the memo does not hold yet (``key``: its memo key): computed, memoized, recorded."""
        replay = self._replay
        if replay and replay.get(key):
            raise replay[key].pop(0)  # it raised in the compiled evaluator's attempt: not called again
        helper = call[0]
        if helper == "has_segment":
            profile = self.profile
            if profile is UNLOADED:
                profile = self.load("profile")
            value = call[1] in (profile.get("segments") or [])
        elif helper == "page_dwell_s":
            value = self._page_dwell_s()
        else:
            _, key_arg, window = call
            value = int(self.signals.count(WINDOWED_HELPERS[helper] + str(key_arg), _window_seconds(window)))
        self.memo[key] = value
        self.used.append(key)
        return value

    def _functions(self) -> dict[str, Callable[..., Any]]:
        """The helpers as the cel library calls them (with CEL's values converted into Python)."""
        def windowed(helper: str) -> Callable[[str, Any], int]:
            def call(key: str, window: Any) -> int:
                return self.helper((helper, key, window))
            return call

        return {
            **{helper: windowed(helper) for helper in WINDOWED_HELPERS},
            "page_dwell_s": lambda: self.helper(("page_dwell_s",)),
            "has_segment": lambda name: self.helper(("has_segment", name)),
        }

    def _page_dwell_s(self) -> float:
        session = self.session
        if session is UNLOADED:
            session = self.load("session")
        dwell = session.get("current_page_dwell_s")  # (None: the default)
        if isinstance(dwell, (int, float)) and not isinstance(dwell, bool):
            return float(dwell)
        dwell_ms = self.event.get("dwell_ms")
        if isinstance(dwell_ms, (int, float)) and not isinstance(dwell_ms, bool):
            return dwell_ms / 1000.0
        return 0.0

    # -- evaluation --
    def cel_context(self) -> cel.Context:
        """The ``cel.Context`` of the fields in ``fields`` (built at most once per event): converting Python
        values into CEL is what makes the cel library costly."""
        if self._context is None:
            try:
                variables = {name: select(self.values(name), selection) for name, selection in self.fields.items()}
                event_fields = self.fields.get("event", {})
                if ("event" in self.fields and (event_fields is None or "traits" in event_fields)
                        and variables["event"].get("traits")):
                    variables["event"] = {**variables["event"], "traits": self.event_traits()}
                self._context = cel.Context(variables=variables, functions=self._functions())
            except Exception as error:
                self.failure = self.failure or error
                raise
        return self._context

    def run(self, condition: Any) -> Any:
        """The condition's result: by its compiled evaluator (compiled.py) when it has one and the evaluator is
        sure of the result, else by the cel library. CEL's exceptions propagate (the caller counts them);
        so does ``failure`` (the caller re-raises it)."""
        evaluator = condition.evaluator
        if evaluator is None or (decided := evaluator(self)) is None:
            return self.run_cel(condition.program)
        return decided

    def run_cel(self, program: cel.Program) -> Any:
        """The program's result in the cel library (after a compiled evaluator's attempt: see ``failed``)."""
        self.used = []
        failed, self.failed = self.failed, None
        if failed:
            self._replay = {}
            for call, error in failed:
                self._replay.setdefault(_memo_key(call), []).append(error)
        try:
            return program.execute(self.cel_context())
        finally:
            self._replay = None

    def why(self, path_list: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """The helper calls the last condition made and the values of the paths it reads."""
        if path_list.__class__ is not tuple:
            path_list = tuple(path_list)
        values = self._why.get(path_list)
        if values is None:  # once per event for a set of paths (rules that read the same fields share it)
            values = self._why[path_list] = {}
            for path in path_list:
                value = self._why.get(path, _MISSING)
                if value is _MISSING:
                    value = self._why[path] = summarize(self._resolve(path))
                values[path] = value
        used = self.used
        if not used:
            return values.copy()
        memo = self.memo
        why = {key if isinstance(key, str) else call_text(key): memo[key] for key in used}
        why.update(values)
        return why

    def _resolve(self, path: str) -> Any:
        """``resolve`` on the variables with their defaults (without building them)."""
        parts = _PATHS.get(path)
        if parts is None:
            root, _, rest = path.partition(".")
            first, _, rest = rest.partition(".")
            parts = (root, first, rest)
            if len(_PATHS) < _PATHS_MAX:
                _PATHS[path] = parts
        root, first, rest = parts
        if not first or root == "now":
            return resolve(self.values(root), f"{first}.{rest}" if rest else first) if first else self.values(root)
        given = self.event if root == "event" else self._loaded(root)
        value = given.get(first, _MISSING)
        if value is _MISSING:
            value = DEFAULTS[root].get(first, _MISSING)
            if value is _MISSING:
                return None
        return resolve(value, rest) if rest else value


_PATHS: dict[str, tuple[str, str, str]] = {}  # a why path split: (variable, field, the rest)
_PATHS_MAX = 4_096
_CALL_TEXTS: dict[tuple, str] = {}  # call -> its text: the calls of a rule set repeat on every event
_CALL_TEXTS_MAX = 4_096


def call_text(call: tuple) -> str:
    """``helper("arg", ...)``; remembered for calls with string arguments (equal calls of other arguments,
    ``f(1)`` and ``f(true)``, are told apart by their text)."""
    text = _CALL_TEXTS.get(call)
    if text is None:
        text = _call_text(call)
        if all(type(arg) is str for arg in call[1:]):
            if len(_CALL_TEXTS) >= _CALL_TEXTS_MAX:
                _CALL_TEXTS.clear()
            _CALL_TEXTS[call] = text
    return text


def _memo_key(call: tuple) -> Any:
    try:
        hash(call)
        return call
    except TypeError:  # an argument given as a list or map: keyed by its text
        return _call_text(call)


def _call_text(call: tuple) -> str:
    helper, *args = call
    return f"{helper}({','.join(json.dumps(arg, ensure_ascii=False, default=str) for arg in args)})"


def _window_seconds(window: Any) -> int:
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        return window  # a computed window in seconds
    return parse_duration(window)


def resolve(values: Any, path: str) -> Any:
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
        if len(value) > 10 or len(_WHY_JSON.encode(value)) > MAX_WHY_VALUE_CHARS:
            return f"<list of {len(value)}>" if isinstance(value, list) else f"<map of {len(value)} keys>"
    return value
