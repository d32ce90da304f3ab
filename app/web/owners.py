"""Asking the worker that holds a key, and following a merged person to the person they joined: the two steps
between any worker receiving a request about a person and the state that answers it.

    GET /profiles/{id}, /recommendations/{id} (any worker) ─▶ the id's owner (identities): which person?
        ─▶ follow_merges(person, state_of): the person's state, along ``merged_into`` (at most MAX_HOPS hops)
               state_of(person) ─▶ ask_owner(profiles, person, path_qs)
                   ├─ this worker owns the person's partition: ``here()`` (the caller reads its own table)
                   └─ another does: GET path_qs there with ``peer_headers()`` ─▶ its JSON (404: ``missing``)

Callers: app/web/profiles.py (the id's hop is Faust's ``table_route``; the person's state from
``/persons/{person}``) and app/web/recommendations.py (both hops here, with a short timeout, the person's owner
computing the list). What an owner that does not answer means is the caller's: ``ask_owner`` raises (the
owner unreachable, a timeout, a status of 400 or more, a 404 too unless ``missing`` is given); the profile
view lets the error propagate to the web server, the recommendations view answers with its fallback list.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import aiohttp
import orjson
from yarl import URL

from app.main import app
from app.web.auth import peer_headers

MAX_HOPS = 4  # tombstones of merged persons point on; a chain is short (one hop per merge)
RAISE: Any = object()  # ``missing``: an owner's 404 raises like any other refusal


async def ask_owner(table, key: str, path_qs: str, *, here: Callable[[], Any] | None = None,
                    missing: Any = RAISE, timeout: aiohttp.ClientTimeout | None = None) -> Any:
    """The JSON the worker owning ``key``'s partition of ``table`` answers to ``GET path_qs``, asked with the peer
    token; ``here()`` (None unless given) when this worker is the owner, without a request.

    ``path_qs``: the path and query, percent-encoded (as ``request.path_qs``); it stays on the owner, whatever
    it starts with. ``missing``: what an owner's 404 gives instead of raising. ``timeout``: the whole request's
    (None: the HTTP client's own). Raises when the owner cannot be reached, times out or answers 400 or more.
    """
    url = app.router.key_store(table.name, key)
    if (url.host, url.port) == (app.conf.canonical_url.host, app.conf.canonical_url.port):
        return None if here is None else here()
    options = {} if timeout is None else {"timeout": timeout}
    async with app.http_client.get(owner_target(url, path_qs), headers=peer_headers(), **options) as response:
        if response.status == 404 and missing is not RAISE:
            return missing
        response.raise_for_status()
        return orjson.loads(await response.read())


def owner_target(owner: URL, path_qs: str) -> URL:
    """``path_qs`` (percent-encoded) on the ``owner``'s host: a leading ``//`` cannot name another host."""
    return owner.with_path("/").join(URL(path_qs.lstrip("/"), encoded=True))


def person_path(person: str) -> str:
    """``/persons/{person}``, percent-encoded (a ``?``, ``#``, ``%`` in the id stays part of it)."""
    return URL.build(path=f"/persons/{person}").raw_path


async def follow_merges(person: str, state_of: Callable[[str], Awaitable[dict | None]],
                        max_hops: int = MAX_HOPS) -> tuple[str, dict | None, bool]:
    """``(person, state, True)``: the first person from ``person`` on whose state (``await state_of(person)``)
    has no ``merged_into``, as a person merged into another is a tombstone naming that other; a missing or
    empty state ends the walk too. ``state_of`` is called at most ``max_hops`` times: past them (a chain too
    long, a cycle) ``(the person the last state names, that last state, False)``."""
    state = None
    for _ in range(max_hops):
        state = await state_of(person)
        if not state or not state.get("merged_into"):
            return person, state, True
        person = state["merged_into"]
    return person, state, False
