"""Frequency capping: an item shown ``max_shows`` times without a click is rested for ``rest_s``.

State (JSON, kept next to the profile, at most ``max_items`` items)::

    {"sku-1": [shows since the last click, last shown at, rested until or null], ...}

``record_shown`` counts a show; on reaching ``max_shows`` the item is rested until ``now + rest_s`` and its
count starts again (after the rest it gets ``max_shows`` more chances). ``record_click`` forgets the item: a
click says the person is interested. When the state is full, the item shown longest ago is dropped (it
is the least likely to be capped still).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from tastemaker.recommend.config import CapConfig

DEFAULT = CapConfig()
SHOWS, SHOWN_AT, RESTED_UNTIL = range(3)


def record_shown(state: Mapping[str, list] | None, item_ids: Iterable[str], now: float,
                 config: CapConfig = DEFAULT) -> dict[str, list]:
    state = {k: list(v) for k, v in (state or {}).items()}
    for item_id in item_ids:
        shows, _, rested = state.get(item_id, [0, now, None])
        if rested is not None and rested > now:
            continue  # shown while rested (the caller chose to): does not extend the rest
        shows += 1
        if shows >= config.max_shows:
            state[item_id] = [0, now, now + config.rest_s]
        else:
            state[item_id] = [shows, now, None]
    if len(state) > config.max_items:
        kept = sorted(state.items(), key=lambda kv: (kv[1][SHOWN_AT], kv[0]), reverse=True)[: config.max_items]
        state = dict(kept)
    return state


def record_click(state: Mapping[str, list] | None, item_id: str) -> dict[str, list]:
    return {k: list(v) for k, v in (state or {}).items() if k != item_id}


def rested(state: Mapping[str, list] | None, item_id: str, now: float) -> bool:
    entry = (state or {}).get(item_id)
    return bool(entry and entry[RESTED_UNTIL] is not None and entry[RESTED_UNTIL] > now)
