"""Fixes for faust-streaming 0.15.3 defects that lose or repeat records after a recovery.

Both are proven by tests/integration/test_pipeline.py: ``test_restart_keeps_table_and_counts_each_event_once``
(a restart that restores a table from its changelog counted 9 or 10 of 7 events, or 6) and
``test_kill_9_mid_stream_loses_nothing_and_counts_nothing_twice`` (57-59 of 60 events after ``kill -9``).

What goes wrong
---------------
When a rebalance or a table recovery ends, ``Recovery.on_recovery_completed`` (or ``_resume_streams``)
resumes the stream partitions, then awaits ``Consumer.perform_seek()`` to move them to their committed
offsets. Two defects meet there::

    resume stream partitions ─▶ fetch C..L ─▶ some records handed to agents, a cut batch dropped
    perform_seek ─▶ aiokafka seek_to_committed: one await per partition, and it seeks only partitions
                    whose committed offset is above 0
                 ─▶ re-fetched records delivered again (duplicates), and on a partition that was never
                    committed (a worker killed before its first commit) the dropped ones never come back

The fixes
---------
1. Seek first, resume after: stream partitions stay paused until every one of them has been seeked, so
   nothing is fetched from them at a position that is about to change.
2. Seek every stream partition, in one step: all committed offsets are read first, then every partition
   is seeked with no await in between, to its committed offset (0 included) or, when it has none, to
   where ``consumer_auto_offset_reset`` starts a fresh consumer. Changelog partitions stay where table
   recovery put them. The seek also wakes aiokafka's fetcher, which resuming alone does not.

A crash still re-delivers what was processed after the last commit; each stage skips those records with
its applied-offset watermarks (``tastemaker/delivery.py``).
"""

from __future__ import annotations

import functools
from typing import Mapping

import aiokafka
import faust
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

_PINNED = {"faust-streaming": ("0.15.3", faust.__version__), "aiokafka": ("0.14.0", aiokafka.__version__)}


def apply() -> None:
    wrong = [f"{name} {found} (written for {want})" for name, (want, found) in _PINNED.items() if want != found]
    if wrong:
        raise RuntimeError(f"app/faust_patches.py: re-check these fixes before upgrading {', '.join(wrong)}")
    if getattr(AIOKafkaConsumerThread.seek_to_committed, "_tastemaker", False):
        return
    AIOKafkaConsumerThread.seek_to_committed = _seek_to_committed
    for name in ("on_recovery_completed", "_resume_streams"):
        setattr(Recovery, name, _resume_after_seek(getattr(Recovery, name)))


async def _seek_to_committed(self: AIOKafkaConsumerThread) -> Mapping[TP, int]:
    return await self.call_thread(_seek_stream_partitions, self)


_seek_to_committed._tastemaker = True


async def _seek_stream_partitions(thread: AIOKafkaConsumerThread) -> Mapping[TP, int]:
    consumer = thread._ensure_consumer()
    changelogs = thread.app.tables.changelog_topics
    partitions = [tp for tp in consumer.assignment() if tp.topic not in changelogs]
    committed = {tp: await consumer.committed(tp) for tp in partitions}
    # From here to the reset request nothing awaits: the seeks take effect together.
    uncommitted = []
    for tp, offset in committed.items():
        if offset is not None and offset >= 0:
            consumer.seek(tp, offset)
        else:
            uncommitted.append(tp)
    if uncommitted:
        if thread.app.conf.consumer_auto_offset_reset == "latest":
            await consumer.seek_to_end(*uncommitted)
        else:
            await consumer.seek_to_beginning(*uncommitted)
    return committed


def _resume_after_seek(method):
    """Run a Recovery method with the consumer's partition resume held back until its seek is done."""

    @functools.wraps(method)
    async def wrapper(self: Recovery, *args, **kwargs):
        consumer = self.app.consumer
        resume_partitions, perform_seek = consumer.resume_partitions, consumer.perform_seek
        held: list = []

        async def seek_then_resume() -> None:
            await perform_seek()
            while held:
                resume_partitions(held.pop(0))

        # Shadow both methods on this consumer instance for the duration of the call.
        consumer.resume_partitions = held.append
        consumer.perform_seek = seek_then_resume
        try:
            return await method(self, *args, **kwargs)
        finally:
            consumer.__dict__.pop("resume_partitions", None)
            consumer.__dict__.pop("perform_seek", None)
            while held:  # paths that resume without seeking (an empty assignment)
                resume_partitions(held.pop(0))

    return wrapper
