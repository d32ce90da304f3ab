"""``GET /profiles/{user_id}``: what this worker knows of a user, answered by the partition's owner.

``table_route`` forwards the request to the worker that owns the user's partition of ``event_counts``
(hashing the key as the changelog serialises it, hence str keys), so any worker can be asked.
"""

from __future__ import annotations

from app.main import app
from app.web.errors import json_error
from tables.event_counts import event_counts


@app.page("/profiles/{user_id}")
@app.table_route(table=event_counts, match_info="user_id")
async def get_profile(web, request, user_id: str):
    state = event_counts.get(user_id)
    if not state:
        return json_error(web, 404, "user_id", "no events seen for this user")
    return web.json({"user_id": user_id, "event_count": state["events"]})
