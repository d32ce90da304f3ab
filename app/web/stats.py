"""``GET /stats/ingest``: this worker's outcomes since it started: accepted, dead-lettered (by reason),
duplicate, counted."""

from __future__ import annotations

from agents.dead_letter import OUTCOMES
from app.main import app, settings


@app.page("/stats/ingest")
async def ingest_stats(web, request):
    return web.json({"worker": settings.canonical_url, "outcomes": dict(OUTCOMES)})
