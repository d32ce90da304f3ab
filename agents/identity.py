"""Stage 2, per raw id: drop duplicates, flag scripted rates, resolve the id's person, re-key by person.

    <app_id>-events-by-id (bundles of items keyed by raw id: tastemaker/bundles.py)
       event ─▶ dedup (seen_messages) ─▶ rate check ─▶ person_of(identities[id]) ─▶ events-by-person (bundles,
       link  ─▶ identities[id] = person ─▶ merge_into / unlink ─────────────────────▶ items keyed by person)

Links come from the person stage (tastemaker/identity.py tells the whole protocol). Items this stage
forwards keep their input position and gain the raw id (``via``), the unit of exactly-once in the person
stage (tastemaker/delivery.py); this stage itself only keeps idempotent state.

No record stops the stage: a record that is not a bundle is dead-lettered whole (agents/bundle_io.py), an
item that fails ``bundles.check_item`` or whatever it triggers is dead-lettered alone, with its position,
and the rest of the bundle goes on. The bundle's table writes are written together at its end
(tables/batched.py), before the bundles they led to are sent.
"""

from __future__ import annotations

import time
from dataclasses import replace

from agents.bundle_io import items_of, send_bundles
from agents.dead_letter import OUTCOMES, send_to_dead_letter
from app.main import app, settings
from app.topics import events_by_id, events_by_person
from tables.batched import BatchedTable
from tables.identities import identities
from tables.seen_messages import seen_messages
from tastemaker import bundles, dedup
from tastemaker.delivery import SourcePosition
from tastemaker.identity import RateMeter, on_link, person_of

rates = RateMeter(settings.bot_events_per_minute)
links = BatchedTable(identities)
marks = BatchedTable(seen_messages)


@app.agent(events_by_id)
async def resolve_identities(stream):
    async for record in stream.events():
        message = record.message
        items = await items_of(record)
        if items is None:
            continue
        out = bundles.BundleWriter(settings.partitions)
        now = time.time()
        for index, entry in enumerate(items):
            here = bundles.position_in_bundle(message.topic, message.partition, message.offset, index)
            try:
                _resolve(entry, here, message.timestamp, now, out)
            except Exception as exc:  # noqa: BLE001 — a record must never stop the stream: it is dead-lettered
                await send_to_dead_letter(bundles.item_bytes(entry), None, f"unreadable bundle item: {exc!r}"[:200],
                                          None, here)
        await links.write()
        await marks.write()
        await send_bundles(events_by_person, out)


def _resolve(entry: dict, here: SourcePosition, at: float, now: float, out: bundles.BundleWriter) -> None:
    bundles.check_item(entry, now)
    raw_id, body = entry["key"], entry["body"]
    partition = here.partition
    kind = body.get("kind", "event")
    if kind == "link":
        _link(raw_id, str(body["person"]), replace(here, via=raw_id), out)
        return
    if kind == "command":  # about the person this id belongs to (tastemaker/person.py, on_command)
        out.add(bundles.item(person_of(links.get(raw_id, partition), raw_id), body, here))
        return
    if kind == "forget_id":
        if person_of(links.get(raw_id, partition), raw_id) == body["of"]:
            links.delete(raw_id, partition)
        return
    if kind != "event":
        raise ValueError(f"unknown kind {kind!r}")
    source = replace(bundles.source_of(entry) or here, via=raw_id)
    key = dedup.dedup_key({"source": body.get("source"), "messageId": body.get("event_id")})
    if key is not None:
        # ``at``: the broker's time of the bundle, so that a re-delivery is judged alike.
        verdict = dedup.classify(marks.get(key, partition), source, at, settings.dedup_window)
        if verdict is dedup.Verdict.DUPLICATE:
            OUTCOMES["duplicate"] += 1
            return
        if verdict is dedup.Verdict.NEW:
            marks.set(key, dedup.mark(source, at), partition)
    if rates.too_fast(raw_id, body.get("received_at") or at) and not body.get("is_bot"):
        body["is_bot"], body["bot_reason"] = True, "rate"
    body["person"] = person = person_of(links.get(raw_id, partition), raw_id)
    out.add(bundles.item(person, body, source))


def _link(raw_id: str, person: str, here: SourcePosition, out: bundles.BundleWriter) -> None:
    step = on_link(links.get(raw_id, here.partition), raw_id, person)
    if step.state is not None:
        links.set(raw_id, step.state, here.partition)
    for key, command in step.commands:
        out.add(bundles.item(key, command, here))
    if step.outcome:
        OUTCOMES[step.outcome] += 1
