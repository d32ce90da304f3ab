"""``GET /profiles/{id}``: a person's profile, asked for by any of their ids (userId or anonymousId).

Two owners are involved: the id's partition of ``identities`` (which person?) and the person's partition of
``profiles``. Any worker can be asked: ``table_route`` forwards the request to the id's owner, which resolves
the person and reads the profile itself or asks the person's owner (``GET /persons/{person}``).
"""

from __future__ import annotations

import orjson

from app.main import app
from app.web.errors import json_error
from tables.identities import identities
from tables.profiles import profiles
from tastemaker.identity import person_of

MAX_HOPS = 4  # tombstones of merged persons point on; a chain is short (one per merge)


@app.page("/profiles/{profile_id}")
@app.table_route(table=identities, match_info="profile_id")
async def get_profile(web, request, profile_id: str):
    person = person_of(identities.get(profile_id), profile_id)
    for _ in range(MAX_HOPS):
        state = await _person_state(person)
        if state is None or not state.get("merged_into"):
            break
        person = state["merged_into"]
    if not state or not state.get("profile") or not state["profile"]["events"]:
        return json_error(web, 404, "id", "no events seen for this id")
    return web.json({"id": profile_id, "person": person, "ids": state["ids"], "profile": state["profile"]})


@app.page("/persons/{person_id}")
@app.table_route(table=profiles, match_info="person_id")
async def get_person(web, request, person_id: str):
    """A person's raw state (ids, watermarks, tombstone, profile), for the profile view and operators."""
    state = profiles.get(person_id)
    if state is None:
        return json_error(web, 404, "person_id", "no such person")
    return web.json(state)


async def _person_state(person: str) -> dict | None:
    url = app.router.key_store(profiles.name, person)
    if (url.host, url.port) == (app.conf.canonical_url.host, app.conf.canonical_url.port):
        return profiles.get(person)
    async with app.http_client.get(url.with_path(f"/persons/{person}")) as response:
        if response.status == 404:
            return None
        response.raise_for_status()
        return orjson.loads(await response.read())
