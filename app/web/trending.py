"""``GET /trending?kind=item|category&limit=20``: what is trending now, across every partition, on any worker.

Each worker follows the whole changelog of the ``trending`` table (one partial per partition of the person
stage, agents/trending.py) and merges the partials when asked (tastemaker.trending.whole, then top):
scores are time-decayed (half-life 6 h) weighted counts of views, cart adds and purchases.
"""

from __future__ import annotations

import time

import orjson

from agents.trending import readable_partial
from app.main import app, settings
from app.topic_follower import TopicFollower
from app.web.errors import json_error
from app.web.queries import BadQuery, limit_of
from tastemaker import trending

MAX_LIMIT = 100
partials: dict[bytes, dict] = {}


def _on_record(key: bytes | None, value: bytes | None) -> None:
    if key is None:
        return
    if value is None:
        partials.pop(key, None)
    else:  # only what the merge can compute with: any producer can write to a changelog topic
        partials[key] = readable_partial(orjson.loads(value), time.time())


follower = TopicFollower(f"{settings.app_id}-trending-changelog", settings.bootstrap_servers, _on_record,
                         from_beginning=True)
app.service(follower)


def trending_now(kind: str, limit: int, now: float | None = None) -> list[tuple[str, float]]:
    prefix = f"{kind}:"
    merged = trending.whole({k: v for k, v in partial.items() if k.startswith(prefix)} for partial in partials.values())
    return [(key[len(prefix):], score) for key, score in trending.top(merged.items(), now or time.time(), limit)]


@app.page("/trending")
async def get_trending(web, request):
    kind = request.query.get("kind", "item")
    if kind not in ("item", "category"):
        return json_error(web, 400, "kind", "kind must be item or category")
    try:
        limit = limit_of(request.query, 20, MAX_LIMIT)
    except BadQuery as bad:
        return json_error(web, 400, bad.field, bad.reason)
    return web.json({"kind": kind, "trending": [{"id": key, "score": round(score, 4)}
                                                for key, score in trending_now(kind, limit)]})
