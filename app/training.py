"""Training on the interaction history kept in Kafka, by command or on the leader's schedule.

    faust -A app train            ─┐
    leader, every TRAIN_EVERY s   ─┴▶ read <app_id>-interactions from now - TRAIN_WINDOW to its end
                                      (tastemaker/interaction_log.HistoryReader: each record once, none of
                                      a person forgotten or opted out after it)
                                      + the catalog + the serving model (the command reads the models
                                        topic's latest value, app/compacted_reads.py; the leader its store)
                                   ─▶ tastemaker/recommend/training.run (in a thread: the loop keeps serving)
                                   ─▶ promoted? ─▶ models topic, key "serving" ─▶ every worker (app/model_store.py)

The history is at least once (a worker killed between sending and writing a person's state sends that
bundle again): records are deduplicated by event id. Each partition is read in offset order, so a forget
marker hides exactly the records before it. The report counts what was read (``history``, no ids; logged)
and, for ids an operator names (``faust -A app train --person ID``), how many of their records the history
holds and how many this run trained on (``audit``: printed, never logged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from app.compacted_reads import latest_values
from app.main import app, settings
from app.topic_follower import partitions_of, reached
from app.topics import MODEL_MAX_BYTES, interactions as interactions_topic, models as models_topic
from tastemaker import bundles
from tastemaker.interaction_log import History, HistoryReader
from tastemaker.recommend import training
from tastemaker.recommend.model import ModelSnapshot

log = logging.getLogger(__name__)

SERVING = "serving"


async def read_history(window_s: float, now: float | None = None, audit: Iterable[str] = ()) -> History:
    """The interaction records of the last ``window_s`` seconds (by Kafka record time) that training may
    read: each once, none hidden by a later forget or opt-out marker. ``audit``: ids to count (History.audit)."""
    topic = interactions_topic.get_topic_name()
    since_ms = int(((time.time() if now is None else now) - window_s) * 1000)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        reader = HistoryReader(audit)
        partitions = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        if not partitions:
            return reader.result()
        consumer.assign(partitions)
        starts = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            found = starts.get(tp)
            consumer.seek(tp, found.offset if found is not None else end[tp])
        while not await reached(consumer, end):
            # getmany gives each partition's records in offset order; partitions may interleave, which the
            # reader allows (a person's records and markers share one partition).
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    try:
                        items = bundles.unpack(record.value)
                    except ValueError:
                        continue  # not ours to judge here: the history is written by the person stage only
                    for entry in items:
                        body = entry.get("body") if isinstance(entry, dict) else None
                        if isinstance(body, dict):
                            reader.add(entry.get("key"), body)
        return reader.result()
    finally:
        await consumer.stop()


async def read_serving() -> ModelSnapshot | None:
    value = (await latest_values(models_topic.get_topic_name())).get(SERVING)
    try:
        return ModelSnapshot.from_bytes(value) if value else None
    except Exception:  # noqa: BLE001 - an unreadable serving record: compare with nothing
        return None


async def publish(snapshot: ModelSnapshot) -> None:
    value = snapshot.to_bytes()
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                                max_request_size=MODEL_MAX_BYTES, compression_type=None)
    await producer.start()
    try:
        await (await producer.send(models_topic.get_topic_name(), value, key=SERVING.encode()))
    finally:
        await producer.stop()


async def train_once(catalog_items, serving: ModelSnapshot | None, publish_model: bool = True,
                     audit: Iterable[str] = ()) -> training.Report:
    history = await read_history(settings.train_window, audit=audit)
    report = await asyncio.to_thread(training.run, history.events, list(catalog_items), serving)
    report.history, report.audit = history.summary(), history.audit
    if report.promote and report.snapshot is not None and publish_model:
        await publish(report.snapshot)
    log.info("training: %s", {k: v for k, v in report.to_dict().items() if k not in ("serving_metrics", "audit")})
    return report


if settings.train_every > 0 and "stream" in settings.roles:
    @app.timer(settings.train_every, on_leader=True)
    async def scheduled_training() -> None:
        from app.catalog import catalog
        from app.model_store import model_store

        try:
            await train_once(catalog.items(), model_store.snapshot)
        except Exception:  # noqa: BLE001 - a failed training keeps the serving model; the next one tries again
            log.exception("scheduled training failed; the serving model stays")
