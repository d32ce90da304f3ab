"""Bundles in and out of the agents (tastemaker/bundles.py): the one place a bundle record is read, or
dead-lettered when it is none (not JSON, no items list, too many items: whatever a producer wrote to an
internal topic), and the one place a writer's bundles are sent, each to its partition. Each item of a
bundle is checked by the agent that applies it (``bundles.check_item``), inside its per-item handling."""

from __future__ import annotations

from typing import Any

from agents.dead_letter import send_to_dead_letter
from tastemaker import bundles
from tastemaker.delivery import SourcePosition


async def items_of(record) -> list[dict[str, Any]] | None:
    """The items of a bundle record, or None after dead-lettering a record that is not a bundle."""
    try:
        return bundles.unpack(record.value)
    except ValueError as exc:
        message = record.message
        here = SourcePosition(message.topic, message.partition, message.offset)
        await send_to_dead_letter(record.value, None, f"unreadable bundle: {exc}"[:200], None, here)
        return None


async def send_bundles(topic, writer: bundles.BundleWriter) -> list:
    """Send (buffer) every bundle of ``writer``; returns the futures of Kafka's acknowledgements."""
    return [await topic.send(key=key, value=value, partition=partition) for partition, key, value in writer.bundles()]
