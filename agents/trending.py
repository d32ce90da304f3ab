"""Trending, as the person stage sees it: each partition's partial scores, kept in memory and stored in the
``trending`` table at most once a second per partition (a crash loses at most that second of trending
signals: a time-decayed estimate, not an account).

    person agent, applied event ─▶ partials[partition] (tastemaker.trending.add_to_partial, in place)
                                   └─ every >= 1 s ─▶ trending_partials["partition:<n>"] ─▶ changelog ─▶ every
                                                                                 worker's follower (app/web/trending.py)

A partial read back (from the table here, from the changelog in the web view) is kept only in the shape
``tastemaker.trending`` computes with (``readable_partial``): the changelog is a topic any producer can write
to, and one entry with a time far in the future would overflow every later decay (2 ** huge). An event the
partial cannot take is skipped and counted (``skipped:trending``): the person stage calls ``add`` outside its
per-item handling, so nothing here may raise.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from app.stage_reports import OUTCOMES
from tables.trending import trending_partials
from tastemaker import trending
from tastemaker.bundles import MAX_FUTURE

log = logging.getLogger(__name__)

WRITE_EVERY = 1.0  # seconds between two writes of one partition's partial
MAX_SCORE = 1e12  # far above any real decayed sum of event weights; a higher one was not computed here


def readable_partial(value: Any, now: float) -> dict[str, dict[str, float]]:
    """The entries of a stored partial that ``tastemaker.trending`` can compute with: string keys, each
    ``{"score": finite, 0..MAX_SCORE, "at": finite, not past now + MAX_FUTURE}``; the rest dropped."""
    if type(value) is not dict:
        return {}
    kept = {}
    for key, entry in value.items():
        if type(key) is not str or type(entry) is not dict:
            continue
        score, at = entry.get("score"), entry.get("at")
        if (type(score) in (int, float) and type(at) in (int, float) and math.isfinite(score) and math.isfinite(at)
                and 0 <= score <= MAX_SCORE and at <= now + MAX_FUTURE):
            kept[key] = {"score": float(score), "at": float(at)}
    return kept


class PartitionTrending:
    def __init__(self) -> None:
        self._partials: dict[int, dict] = {}
        self._written: dict[int, float] = {}
        self._dirty: set[int] = set()

    def add(self, partition: int, event: dict) -> None:
        try:
            if partition not in self._partials:  # first use on this worker: start from what is stored
                self._partials[partition] = readable_partial(trending_partials.get(_key(partition)), time.time())
            # In place: a copy of the partial (~1,600 keys) per event was most of this stage's trending cost.
            changed = trending.add_to_partial(self._partials[partition], event)
        except Exception as exc:  # noqa: BLE001 — called outside the person stage's per-item handling
            OUTCOMES["skipped:trending"] += 1
            log.warning("trending: an event of partition %s not counted (%s)", partition, type(exc).__name__)
            return
        if changed:
            self._dirty.add(partition)

    def store(self, partition: int) -> None:
        """Write the partition's partial if it changed and was not written within the last second; called
        while the agent processes a record of that partition (so the write lands in its changelog)."""
        now = time.monotonic()
        if partition in self._dirty and now - self._written.get(partition, 0.0) >= WRITE_EVERY:
            # A snapshot: the partial goes on changing in place, the table's value must not.
            trending_partials[_key(partition)] = dict(self._partials[partition])
            self._written[partition] = now
            self._dirty.discard(partition)

    def forget(self) -> None:
        """Partitions may have moved (a rebalance): reload from the table on next use."""
        self._partials.clear()
        self._dirty.clear()


def _key(partition: int) -> str:
    return f"partition:{partition}"


partition_trending = PartitionTrending()
