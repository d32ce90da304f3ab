"""What every stage on this worker reports about itself: outcome counters and progress clocks.

    ingest, identity, person, timers, topic followers, table stores
        │ OUTCOMES["accepted" | "dead_letter:<reason>" | "skipped:<what>" | ...] += 1 ──▶ GET /stats/ingest
        │ clock(name).finished(now) / .waiting(n, now) / .failed(exc)            ──▶ GET /health (stage:<name>)

Kept here, below ``agents/`` and ``app/web/``, so that every stage can report without importing another
stage (``agents/dead_letter.OUTCOMES`` is this same counter). ``skipped:<what>`` counts records that could
be neither processed nor dead-lettered (a follower's record it cannot apply, a table value it cannot decode);
the stage went on without them.
"""

from __future__ import annotations

import time
from collections import Counter

from tastemaker.health import StageClock

#: Outcomes on this worker since it started: "accepted", "dead_letter", "dead_letter:<reason>",
#: "duplicate", "counted", "skipped:<what>", ... (``GET /stats/ingest``).
OUTCOMES: Counter[str] = Counter()

#: The stages running on this worker, by name, in the order they registered.
STAGES: dict[str, StageClock] = {}


def clock(name: str) -> StageClock:
    """The progress clock of stage ``name`` (created on first use)."""
    if name not in STAGES:
        STAGES[name] = StageClock(name)
    return STAGES[name]


def now() -> float:
    """The clocks' time: monotonic seconds."""
    return time.monotonic()
