"""``GET /stats/ingest``: this worker's ingest outcomes since it started (accepted, dead-lettered by reason)."""

from __future__ import annotations

from agents.ingest import OUTCOMES
from app.main import app, settings


@app.page("/stats/ingest")
async def ingest_stats(web, request):
    return web.json({"worker": settings.canonical_url, "outcomes": dict(OUTCOMES)})
