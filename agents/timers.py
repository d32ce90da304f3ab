"""Wall-clock ticks for persons whose state has something due: idle sessions to close, rule timers to fire.

    person agent writes a state ──▶ timer_index.set(person, next_due(state))
    every second: timer_index.due(now) ──▶ {"kind": "tick", "now": now} items ──▶ events-by-person ──▶ person
                                                                                 agent: on_tick (idempotent)

A tick travels through the person's partition like any record, so the change it causes is written by the
partition's owner, in order with the person's events. The index is memory only: after a restart or a
rebalance it is rebuilt from the persons' stored state (what is due is part of the state), so timers
survive restarts and fire on time although the person sends nothing more.

Nothing stored can stop the timer: a state the rebuild cannot read is skipped and counted
(``skipped:timer_state``), and ticks the broker does not take are due again on the next run. The timer's
progress clock (``stage:timers`` in ``/health``) fails when ticks wait and none could be sent for too long.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agents.bundle_io import send_bundles
from agents.trending import partition_trending
from app import stage_reports
from app.main import app, settings
from app.rulebook import rulebook
from app.topics import events_by_person
from tables.profiles import profiles
from tastemaker import behaviour, bundles
from tastemaker.timer_index import TimerIndex

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
timer_index = TimerIndex()
_rebuild = asyncio.Event()
clock = stage_reports.clock("timers")


@app.on_partitions_assigned.connect
async def _on_assigned(sender, assigned, **kwargs) -> None:
    _rebuild.set()
    partition_trending.forget()


@app.timer(TICK_SECONDS)
async def send_ticks() -> None:
    # An exception out of a Faust timer ends it for the worker's life: nothing may escape.
    due: list[str] = []
    try:
        if _rebuild.is_set():
            _rebuild.clear()
            await _rebuild_index()
        now = time.time()
        due = timer_index.due(now)
        clock.waiting(len(due), stage_reports.now())
        if not due:
            return
        writer = bundles.BundleWriter(settings.partitions)
        for person in due:
            writer.add(bundles.item(person, {"kind": "tick", "now": now}))
        await send_bundles(events_by_person, writer)
        clock.finished(stage_reports.now())
    except Exception as exc:  # noqa: BLE001 — the broker refused the ticks: they are due again next run
        for person in due:
            timer_index.set(person, time.time())
        clock.failed(exc)
        log.warning("timers: %d ticks not sent (%s); trying again", len(due), type(exc).__name__)


async def _rebuild_index() -> None:
    started = time.monotonic()
    timer_index.clear()
    knowledge = rulebook.knowledge
    count = 0
    for person, state in profiles.items():
        count += 1
        if count % 50 == 0:
            # A long scan must not starve the stream or the web views: ~50 states decoded take ~5-10 ms.
            await asyncio.sleep(0)
        try:
            if not state or state.get("merged_into"):
                continue
            person = person.decode() if isinstance(person, bytes) else person
            timer_index.set(person, behaviour.next_due(state, knowledge))
        except Exception:  # noqa: BLE001 — a state no stage wrote (another producer's changelog record)
            stage_reports.OUTCOMES["skipped:timer_state"] += 1
    log.info("timers: %d persons scanned, %d with something due, in %.1f s", count, len(timer_index),
             time.monotonic() - started)
