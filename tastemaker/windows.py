"""Per-person sliding-window counts on event time: "3 Product Viewed in the last 10 minutes".

Every accepted event is counted under a few keys::

    event:<label>       the label of tastemaker.profile.event_label (track: its name, else its type)
    item:<id>           once per item id
    category:<name>     when the event has a category

and each key keeps the sorted list of its event times. A count is two binary searches (O(log n))::

    times of a key    11   14   14 | 20   31   35 | 40        window (at - w, at], w = 21, at = 35
                               ^ at - w = 14   ^ at = 35
                      not counted  | counted      | not counted
    count = bisect_right(times, at) - bisect_right(times, at - w) = 6 - 3 = 3

i.e. ``count = #{t : at - w < t <= at}``. Times are compared at millisecond resolution (event times are
rounded to the millisecond on arrival, ``at`` and ``w`` the same way when queried), so a count is exact
to the event at either edge.

Event time, lateness, pruning (W = the watermark, the newest event time seen for this person)::

    ---------|==========================|=======|-----------> event time
         W - horizon                W - grace   W
    pruned (never counted    kept, still countable        an event arriving with t < W - grace
    again by a query at         by some query              is LATE: not counted, reported
    at >= W - grace)                                       (apply(...).late), state unchanged

    horizon = longest window + grace

A query at ``at >= W - grace`` with a window no longer than the longest configured one only counts times
``t > at - w >= W - horizon``, so times ``<= W - horizon`` are dropped (and keys left without times) without
changing any such count. Queries before ``W - grace`` may miss pruned times.

Bounds (WindowConfig): at most ``max_keys`` keys, ``max_times_per_key`` times in a key, ``max_times`` times
in all. Over a cap the *oldest* times go, down to a tenth below the cap (over the key cap whole keys go,
those whose newest time is oldest). Each cut records the newest time it dropped in ``saturated_since``: a count
whose window reaches back to or before it (``at - w < saturated_since``) is a lower bound; counts whose
window starts at or after it are exact (``is_exact``). Once it lies beyond the horizon no allowed query
reaches it and the mark is cleared. Keys longer than ``max_key_chars`` are truncated.

State (JSON, bounded by ``WindowConfig.max_json_chars``; every time is an int of milliseconds after
``base``, which keeps the numbers short: at most 1.5 horizons, 9 digits for the defaults)::

    {"base": 1795737000,                 int epoch seconds, <= every time below; moved forward (all times
                                         shifted) once the watermark is 1.5 horizons past it
     "watermark": 720123,                the newest accepted event time (ms after base), None before any
     "times": {"event:Product Viewed": [600000, 715004, 720123],     ascending, duplicates kept
               "item:p1": [600000, 720123], "category:shoes": [...]},
     "saturated_since": None}            or the newest time a cap dropped (ms after base)

Merging (an anonymous visitor logs in): the union of both time lists per key, the larger watermark, then
pruning and caps. Short of the caps it holds exactly the times (and so the counts) of one person that
applied every event either of the two accepted, in time order (``base`` may differ). It is more generous than a single interleaved stream would have been: an
event of the one person that is older than the *other* person's watermark minus grace was counted by its
own person and stays counted (as long as it is within the horizon of the merged watermark), where the
single stream might have rejected it as late.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from itertools import chain
from typing import Any, Iterable, Mapping

from tastemaker.profile import event_label

MINUTE, HOUR, DAY = 60, 3600, 86400


@dataclass(frozen=True)
class WindowConfig:
    """What is counted over which windows, and the bounds of one person's state. Every default:

    - ``windows`` (10 min, 1 h, 24 h, 7 d): the windows ``counts`` reports; the longest one also sets how
      far back times are kept. Seconds, ascending.
    - ``grace`` (5 min): how far behind the watermark an event may arrive and still be counted (mobile
      batching, a slow tab); older events are late. Seconds.
    - ``max_keys`` (300): distinct keys kept; a person viewing many items over a week loses the keys of
      the items seen longest ago first.
    - ``max_times_per_key`` (1,000): times kept in one key (a page-view every 10 minutes for a week).
    - ``max_times`` (5,000): times kept in all; with the per-event keys (event, item, category) about
      1,700 events of the horizon. Together with the key caps this bounds the state (``max_json_chars``).
    - ``max_key_chars`` (100): longer keys (a free-text event name, an unusual item id) are truncated.

    A state over a cap is cut to a tenth below it (amortizes the cuts). With the defaults a state is at
    most ``max_json_chars`` = 87,560 characters of JSON; a measured heavy person (5,000 events in 7 days
    over 2,000 items) takes ~52 KB, a typical one (50 events) ~3 KB (bench/windows_micro.py).
    """

    windows: tuple[float, ...] = (10 * MINUTE, HOUR, DAY, 7 * DAY)
    grace: float = 5 * MINUTE
    max_keys: int = 300
    max_times_per_key: int = 1_000
    max_times: int = 5_000
    max_key_chars: int = 100

    def __post_init__(self) -> None:
        if not self.windows or any(w <= 0 for w in self.windows) or list(self.windows) != sorted(self.windows):
            raise ValueError("windows must be positive seconds, ascending, at least one")
        if self.grace < 0 or min(self.max_keys, self.max_times_per_key, self.max_times, self.max_key_chars) < 1:
            raise ValueError("grace must be >= 0 and every cap >= 1")
        # Read on every event: computed once (as _ms computes them).
        object.__setattr__(self, "_grace_ms", round(self.grace * 1000))
        object.__setattr__(self, "_horizon_ms", round(self.windows[-1] * 1000) + self._grace_ms)

    @property
    def horizon_ms(self) -> int:
        return self._horizon_ms  # type: ignore[attr-defined]

    @property
    def max_json_chars(self) -> int:
        """An upper bound of ``len(json.dumps(state))`` for keys of ASCII characters: each key with its
        quotes, colon, brackets and separator, each time with its separator, and the fixed fields."""
        time_chars = len(str(_rebase_after(self))) + 2  # digits, ", "
        return 160 + self.max_keys * (self.max_key_chars + 8) + self.max_times * time_chars


DEFAULT = WindowConfig()


@dataclass(frozen=True)
class Applied:
    state: dict[str, Any]
    late: bool  # older than watermark - grace: not counted, ``state`` is the state as it was

    def __init__(self, state: dict[str, Any], late: bool) -> None:
        # One per event: filling the dict costs a third of the generated frozen __init__ (object.__setattr__).
        self.__dict__.update(state=state, late=late)


def empty() -> dict[str, Any]:
    return {"base": 0, "watermark": None, "times": {}, "saturated_since": None}


def keys_of(event: Mapping[str, Any], config: WindowConfig = DEFAULT) -> list[str]:
    """The keys an event is counted under, each once."""
    keys = [f"event:{event_label(event)}"]
    keys += [f"item:{item}" for item in event.get("item_ids") or ()]
    category = event.get("category")
    if category:
        keys.append(f"category:{category}")
    limit = config.max_key_chars
    return list(dict.fromkeys([key[:limit] for key in keys]))


def apply(state: Mapping[str, Any] | None, event: Mapping[str, Any], config: WindowConfig = DEFAULT) -> Applied:
    state = state or empty()
    at = _ms(event["event_time"])
    if state["watermark"] is None:
        base = (at - config._grace_ms) // 1000  # every later accepted event is at or after it
        state = {**state, "base": base}
    at -= state["base"] * 1000
    watermark = state["watermark"]
    if watermark is not None and at < watermark - config._grace_ms:
        return Applied(dict(state), late=True)

    times = dict(state["times"])  # lists are shared with the old state until changed: never mutate them
    touched = keys_of(event, config)
    for key in touched:
        key_times = list(times.get(key, ()))
        insort(key_times, at)
        times[key] = key_times
    advanced = watermark is None or at > watermark
    return Applied(_settle(state["base"], max(at, watermark or at), times, state["saturated_since"],
                           touched, prune=advanced, config=config), late=False)


def merge(into: Mapping[str, Any] | None, other: Mapping[str, Any] | None,
          config: WindowConfig = DEFAULT) -> dict[str, Any]:
    """Two persons' windows as one (see the module docstring for what happens to would-be-late events)."""
    if not other or other["watermark"] is None:
        return dict(into or empty())
    if not into or into["watermark"] is None:
        return dict(other)
    base = min(into["base"], other["base"])
    shift_into, shift_other = (into["base"] - base) * 1000, (other["base"] - base) * 1000
    times = {key: _shifted(key_times, shift_into) for key, key_times in into["times"].items()}
    for key, key_times in other["times"].items():
        shifted = _shifted(key_times, shift_other)
        times[key] = sorted(times[key] + shifted) if key in times else shifted  # two runs: a linear merge
    saturated = [s + shift for s, shift in ((into["saturated_since"], shift_into),
                                            (other["saturated_since"], shift_other)) if s is not None]
    watermark = max(into["watermark"] + shift_into, other["watermark"] + shift_other)
    return _settle(base, watermark, times, max(saturated, default=None), list(times), prune=True, config=config)


def count(state: Mapping[str, Any] | None, key: str, window_seconds: float, at: float) -> int:
    """Events of ``key`` with ``at - window_seconds < t <= at`` (milliseconds). Exact for ``at >= watermark
    - grace`` and windows up to the longest configured one, unless ``is_exact`` says it is a lower bound."""
    if not state or key not in state["times"]:
        return 0
    key_times = state["times"][key]
    end = _ms(at) - state["base"] * 1000
    return bisect_right(key_times, end) - bisect_right(key_times, end - _ms(window_seconds))


def is_exact(state: Mapping[str, Any] | None, window_seconds: float, at: float) -> bool:
    """False when a cap dropped times the window ``(at - window_seconds, at]`` may have held."""
    if not state or state["saturated_since"] is None:
        return True
    return _ms(at) - _ms(window_seconds) - state["base"] * 1000 >= state["saturated_since"]


def counts(state: Mapping[str, Any] | None, at: float, config: WindowConfig = DEFAULT,
           limit: int = 100) -> dict[str, dict[str, int]]:
    """For display: ``{key: {"10m": n, "1h": n, "1d": n, "7d": n}}`` for the ``limit`` keys with the most
    events in the longest window (ties by key), keys without any left out."""
    if not state:
        return {}
    labels = [window_label(w) for w in config.windows]
    end = _ms(at) - state["base"] * 1000
    starts = [end - _ms(w) for w in config.windows]
    rows = []
    for key, key_times in state["times"].items():
        last = bisect_right(key_times, end)  # count() per window, sharing the search for the end
        row = [last - bisect_right(key_times, start, 0, last) for start in starts]
        if row[-1]:
            rows.append((key, row))
    rows = heapq.nsmallest(limit, rows, key=lambda kr: (-kr[1][-1], kr[0]))
    return {key: dict(zip(labels, row)) for key, row in rows}


def watermark(state: Mapping[str, Any] | None) -> float | None:
    """The newest accepted event time, epoch seconds."""
    return None if not state or state["watermark"] is None else _seconds(state, state["watermark"])


def saturated_since(state: Mapping[str, Any] | None) -> float | None:
    """Epoch seconds; windows reaching back to or before it count lower bounds."""
    return None if not state or state["saturated_since"] is None else _seconds(state, state["saturated_since"])


def timeline(state: Mapping[str, Any] | None) -> dict[str, list[float]]:
    """Every kept time per key, epoch seconds (for inspection and tests)."""
    return {key: [_seconds(state, t) for t in key_times] for key, key_times in (state or empty())["times"].items()}


def window_label(seconds: float) -> str:
    """600 -> "10m", 3600 -> "1h", 86400 -> "1d": the largest unit that divides it."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# -- internals: every time below is an int of ms after the state's base --------------------------------


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _seconds(state: Mapping[str, Any], offset: int) -> float:
    return (state["base"] * 1000 + offset) / 1000


def _rebase_after(config: WindowConfig) -> int:
    """Once the watermark is this far past the base the base moves forward: bounds the offsets' digits,
    and happens at most once per half a horizon of event time (it rewrites every time)."""
    return config.horizon_ms * 3 // 2


def _settle(base: int, watermark: int, times: dict[str, list[int]], saturated: int | None, touched: Iterable[str],
            prune: bool, config: WindowConfig) -> dict[str, Any]:
    """Prune, apply the caps (``touched``: the keys that may have grown), move the base: a valid state.
    ``times`` is this call's own dict; its lists may be shared with other states and are replaced, never
    changed."""
    horizon = config._horizon_ms
    cutoff = watermark - horizon
    if prune:
        for key in [k for k, key_times in times.items() if key_times[0] <= cutoff]:
            kept = times[key][bisect_right(times[key], cutoff):]
            if kept:
                times[key] = kept
            else:
                del times[key]

    # Over a cap, cut to a tenth below it: the key and total cuts look at every key, and this way they
    # happen once in many events, not at every event of a person at the cap.
    dropped: list[int] = []  # the newest time each cut dropped
    for key in touched:
        key_times = times.get(key)
        if key_times is not None and len(key_times) > config.max_times_per_key:
            gone = len(key_times) - _below(config.max_times_per_key)
            dropped.append(key_times[gone - 1])
            times[key] = key_times[gone:]
    if len(times) > config.max_keys:
        for key in heapq.nsmallest(len(times) - _below(config.max_keys), times, key=lambda k: (times[k][-1], k)):
            dropped.append(times.pop(key)[-1])
    total = sum(map(len, times.values()))
    if total > config.max_times:
        dropped.append(_drop_oldest(times, total - _below(config.max_times)))
    if dropped:
        saturated = max(dropped + ([saturated] if saturated is not None else []))
    if saturated is not None and saturated <= cutoff:
        saturated = None  # no allowed query reaches back that far any more

    if watermark > horizon * 3 // 2:  # _rebase_after(config)
        oldest = min([key_times[0] for key_times in times.values()] + [watermark - config._grace_ms])
        new_base = base + max(0, oldest) // 1000
        shift = (new_base - base) * 1000
        if shift:
            base, watermark = new_base, watermark - shift
            times = {key: [t - shift for t in key_times] for key, key_times in times.items()}
            saturated = None if saturated is None else saturated - shift
    return {"base": base, "watermark": watermark, "times": times, "saturated_since": saturated}


def _shifted(key_times: list[int], shift: int) -> list[int]:
    return [t + shift for t in key_times] if shift else key_times


def _below(cap: int) -> int:
    """What a cut leaves of a cap."""
    return max(1, cap - max(1, cap // 10))


def _drop_oldest(times: dict[str, list[int]], n: int) -> int:
    """Drop the ``n`` oldest times of all keys (of those tied at the cut, from keys in name order: a burst
    at one time is cut, not wiped out) and keys left empty; returns the newest time dropped."""
    through = sorted(chain.from_iterable(times.values()))[n - 1]  # sorted runs: timsort merges them in C
    older = {key: bisect_left(key_times, through) for key, key_times in times.items() if key_times[0] <= through}
    ties = n - sum(older.values())
    for key in sorted(older):
        key_times = times[key]
        tied = min(ties, bisect_right(key_times, through) - older[key])
        ties -= tied
        if older[key] + tied == len(key_times):
            del times[key]
        else:
            times[key] = key_times[older[key] + tied:]
    return through
