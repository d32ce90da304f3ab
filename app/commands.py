"""Operator commands: ``faust -A app <command>``."""

from __future__ import annotations

from app.kafka_admin import ensure_topics, topic_specs
from app.main import app, settings


@app.command()
async def create_topics(self) -> None:
    """Create every Tastemaker topic with its partition count (existing ones are checked, not changed)."""
    specs = topic_specs(app)
    created = await ensure_topics(settings.bootstrap_servers, specs)
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        self.say(f"{state:8} {spec.name} ({spec.partitions} partitions, replication {spec.replication})")
