"""``GET /stats/ingest``: this worker's outcomes since it started: accepted, dead-lettered (by reason),
duplicate, counted. For operators: a read or admin token (app/web/auth.py)."""

from __future__ import annotations

from agents.dead_letter import OUTCOMES
from app.main import app, settings
from app.web.auth import OPERATOR_READ, require


@app.page("/stats/ingest")
async def ingest_stats(web, request):
    if refused := require(web, request, OPERATOR_READ):
        return refused
    return web.json({"worker": settings.canonical_url, "outcomes": dict(OUTCOMES)})
