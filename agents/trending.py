"""Trending, as the person stage sees it: each partition's partial scores, kept in memory and stored in the
``trending`` table at most once a second per partition (a crash loses at most that second of trending
signals: a time-decayed estimate, not an account).

    person agent, applied event ─▶ partials[partition] (tastemaker.trending.apply_to_partial)
                                   └─ every >= 1 s ─▶ trending_partials["partition:<n>"] ─▶ changelog ─▶ every
                                                                                 worker's follower (app/web/trending.py)
"""

from __future__ import annotations

import time

from tables.trending import trending_partials
from tastemaker import trending

WRITE_EVERY = 1.0  # seconds between two writes of one partition's partial


class PartitionTrending:
    def __init__(self) -> None:
        self._partials: dict[int, dict] = {}
        self._written: dict[int, float] = {}
        self._dirty: set[int] = set()

    def add(self, partition: int, event: dict) -> None:
        if partition not in self._partials:  # first use on this worker: start from what is stored
            self._partials[partition] = dict(trending_partials.get(_key(partition)) or {})
        updated = trending.apply_to_partial(self._partials[partition], event)
        if updated is not None:
            self._partials[partition] = updated
            self._dirty.add(partition)

    def store(self, partition: int) -> None:
        """Write the partition's partial if it changed and was not written within the last second; called
        while the agent processes a record of that partition (so the write lands in its changelog)."""
        now = time.monotonic()
        if partition in self._dirty and now - self._written.get(partition, 0.0) >= WRITE_EVERY:
            trending_partials[_key(partition)] = self._partials[partition]
            self._written[partition] = now
            self._dirty.discard(partition)

    def forget(self) -> None:
        """Partitions may have moved (a rebalance): reload from the table on next use."""
        self._partials.clear()
        self._dirty.clear()


def _key(partition: int) -> str:
    return f"partition:{partition}"


partition_trending = PartitionTrending()
