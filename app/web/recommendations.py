"""``GET /recommendations/{id}``: a person's list, computed on the worker that holds their profile.

    any worker ──▶ the id's owner (identities): which person? ──▶ the person's owner (profiles):
                   state + model + catalog + trending ──▶ tastemaker/recommend/pipeline.recommend ──▶ JSON

Query: ``limit`` (1..50, default 10), ``context`` (``device:mobile,locale:de-DE,referrer:google.com,
utm_source:newsletter,utm_medium:email``; the profile's last context when absent), ``exclude`` (comma-separated item ids), ``block``
(the page block asking, echoed back), ``item_id`` (the item on the page: left out of the list).

Both hops and the walk along merged persons are app/web/owners.py's (``ask_owner``, ``follow_merges``).

Access (app/web/auth.py): a read token or the visitor's own token (``Authorization: Bearer``); the worker that
resolves the id asks the owners with the peer token, and ``/persons/{person}/recommendations`` takes only the
peer or an admin token. ``/items/{id}/similar`` is public: it holds no person.

Never an error page to a site for what is not the request's fault: when the model, the profile or a
partition owner is unavailable the answer is popular content with ``fallback: true`` and the reason.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp

from app.catalog import catalog as item_catalog
from app.main import app
from app.model_store import model_store
from app.web.auth import INTERNAL, PERSON_READ, require
from app.web.errors import json_error
from app.web.owners import ask_owner, follow_merges, person_path
from app.web.queries import BadQuery, limit_of
from app.web.trending import trending_now
from tables.identities import identities
from tables.profiles import profiles
from tastemaker.identity import person_of
from tastemaker.recommend import pipeline, similar
from tastemaker.recommend.config import DEFAULT
from tastemaker.recommend.catalog_index import CatalogIndex

log = logging.getLogger(__name__)

MAX_LIMIT = 50
MAX_EXCLUDE = 100
CONTEXT_KEYS = ("device", "locale", "referrer", "utm_source", "utm_medium")
FORWARD_TIMEOUT = aiohttp.ClientTimeout(total=2.0)


class Views:
    """What every request reads, rebuilt only when it changed: the catalog index (by catalog version) and
    trending (at most once a second)."""

    def __init__(self) -> None:
        self._catalog: tuple[int, CatalogIndex] | None = None
        self._trending: tuple[float, list[tuple[str, float]]] = (0.0, [])

    def catalog(self) -> CatalogIndex:
        if self._catalog is None or self._catalog[0] != item_catalog.version:
            self._catalog = (item_catalog.version, CatalogIndex(item_catalog.items()))
        return self._catalog[1]

    def trending(self, now: float) -> list[tuple[str, float]]:
        if now - self._trending[0] >= 1.0:
            self._trending = (now, trending_now("item", 100, now))
        return self._trending[1]


views = Views()


def parse_query(query) -> dict[str, Any]:
    limit = limit_of(query, 10, MAX_LIMIT)
    context = None
    if query.get("context"):
        context = {}
        for part in query["context"].split(","):
            key, sep, value = part.partition(":")
            key = key.strip()
            if not sep or key not in CONTEXT_KEYS or not value.strip():
                raise BadQuery("context", f"context is key:value pairs separated by commas, keys "
                                          f"{', '.join(CONTEXT_KEYS)}; not {part!r}")
            if key.startswith("utm_"):  # the campaign fields the model's context tokens read
                context.setdefault("campaign", {})[key[4:]] = value.strip()
            else:
                context[key] = value.strip()
    exclude = [i for i in (query.get("exclude") or "").split(",") if i.strip()]
    if len(exclude) > MAX_EXCLUDE:
        raise BadQuery("exclude", f"at most {MAX_EXCLUDE} excluded items")
    if query.get("item_id"):
        exclude.append(query["item_id"])
    return {"limit": limit, "context": context, "exclude": exclude, "block": query.get("block"),
            "item_id": query.get("item_id")}


def answer(person: str | None, state: dict | None, asked: dict[str, Any], fallback_reason: str | None = None):
    now = time.time()
    snapshot = model_store.snapshot
    trending = views.trending(now)
    # The model's popular lists (overall and per context token: cold start by context), else what is trending.
    popular = snapshot.popular if snapshot is not None and snapshot.popular else {"": trending}
    request = pipeline.Request(count=asked["limit"], now=now, context=asked["context"], exclude=asked["exclude"],
                               personalize=fallback_reason is None)
    subject = None
    if state is not None and fallback_reason is None:
        subject = {"profile": state.get("profile"), "session": (state.get("sessions") or {}).get("current"),
                   "recommend": state.get("recommend")}
    result = pipeline.recommend(subject, snapshot, views.catalog(), trending, popular, request)
    body = result.to_dict()
    if fallback_reason is not None:
        body.update(fallback=True, fallback_reason=fallback_reason)
    body.pop("filtered", None)
    # as_of: the event time of the newest event the list knows about (how fresh it is).
    profile = (subject or {}).get("profile") or {}
    return {"person": person, "block": asked["block"], **body,
            "model_version": snapshot.version if snapshot is not None else None, "as_of": profile.get("last_seen"),
            # The experiment variant that chose this list: none until experiments exist (A/B tests).
            "variant": None}


@app.page("/recommendations/{person_id}")
async def get_recommendations(web, request, person_id: str):
    if refused := require(web, request, PERSON_READ, person_id):
        return refused
    try:
        asked = parse_query(request.query)
    except BadQuery as bad:
        return json_error(web, 400, bad.field, bad.reason)
    try:
        forwarded = await ask_owner(identities, person_id, request.path_qs, timeout=FORWARD_TIMEOUT)
        if forwarded is not None:
            return web.json(forwarded)
        owner_listed = False  # whether the last state_of was a list the person's owner computed

        async def state_of(person: str) -> dict | None:
            # The owner's list, or {"merged_into": ..} for a merged person; this worker's state when it owns them.
            nonlocal owner_listed
            answered = await ask_owner(profiles, person, f"{person_path(person)}/recommendations?{request.query_string}",
                                       timeout=FORWARD_TIMEOUT)
            owner_listed = answered is not None and "merged_into" not in answered
            return profiles.get(person) if answered is None else answered

        person, state, reached = await follow_merges(person_of(identities.get(person_id), person_id), state_of)
        if not reached:  # a chain longer than MAX_HOPS, or a cycle
            return web.json(answer(person, None, asked, "owner_unavailable"))
        if owner_listed:
            return web.json(state)
        return web.json(answer(person, state, asked))
    except Exception as error:  # noqa: BLE001 - an owner down, a rebalance: the site gets a list, never an error
        log.warning("recommendations: a partition owner did not answer (%s); serving the fallback", type(error).__name__)
        return web.json(answer(None, None, asked, "owner_unavailable"))


@app.page("/persons/{person_id}/recommendations")
async def get_person_recommendations(web, request, person_id: str):
    """The person's owner computing the list (asked by the worker that resolved the id)."""
    if refused := require(web, request, INTERNAL):
        return refused
    try:
        asked = parse_query(request.query)
    except BadQuery as bad:
        return json_error(web, 400, bad.field, bad.reason)
    state = profiles.get(person_id)
    if state and state.get("merged_into"):
        return web.json({"merged_into": state["merged_into"]})  # the asking worker follows it
    return web.json(answer(person_id, state, asked))


@app.page("/items/{item_id}/similar")
async def get_similar(web, request, item_id: str):
    """Items like ``item_id``: the model's embedding neighbours blended with shared categories, tags and brand
    (content alone for an item the model does not know yet). Any worker: the model and catalog are whole."""
    try:
        limit = limit_of(request.query, 10, MAX_LIMIT)
    except BadQuery as bad:
        return json_error(web, 400, bad.field, bad.reason)
    catalog = views.catalog()
    snapshot = model_store.snapshot
    if item_id not in catalog and (snapshot is None or item_id not in snapshot.index):
        return json_error(web, 404, "item_id", "no such item in the catalog or the model")
    found = similar.neighbours(item_id, catalog, snapshot, limit * 2, DEFAULT.candidates.similar_content_weight)
    items = [{"item_id": other, "score": round(score, 4), "source": "collaborative" if snapshot is not None
              and item_id in snapshot.index and other in snapshot.index else "content"}
             for other, score in found if not len(catalog) or catalog.available(other)][:limit]
    return web.json({"item_id": item_id, "items": items,
                     "model_version": snapshot.version if snapshot is not None else None})
