"""The item catalog over HTTP: public reads, token-protected writes.

    GET    /items?limit=100&after=ID&category=C&brand=B   a page of items in id order  {"items", "next", "total"}
    GET    /items/{id}                                    one item | 404
    PUT    /items/{id}      body: the item as JSON         200 {"item_id", "change", "item"} | 400 | 413
    DELETE /items/{id}                                    200 {"item_id", "change": "deleted"} | 404

Writes take an admin token, ``Authorization: Bearer <one of TASTEMAKER_ADMIN_TOKENS>`` (app/web/auth.py: 401
without one, 403 for a token of another scope); reads are public, the catalog holds no person. Writes are
validated by ``tastemaker.catalog.parse_item``, the rules of the bulk import; a refusal is
``{"error": {"status", "field", "reason"}}``. A change goes to the compacted items topic (app/catalog.py),
which every worker follows, and the answer comes once this worker's own copy shows it, so a GET right after
a PUT sees it (app/web/kafka_writes.py ``write_visible``: 504 when it does not within ``VISIBLE_WITHIN``, 10 s).
Until the worker has read the topic to its end every call answers 503: a 404 then could be an item not yet
read.
"""

from __future__ import annotations

import orjson
from faust.web import View

from app.catalog import catalog, follower
from app.main import app
from app.topics import items as items_topic
from app.web.auth import ADMIN_ONLY, require
from app.web.bodies import read_body
from app.web.errors import json_error
from app.web.kafka_writes import write_visible
from tastemaker.catalog import MAX_ITEM_BYTES, ItemError, parse_item_json

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
POLL = 0.02  # seconds between looks at this worker's catalog while a write comes back from Kafka


def _loading(web):
    if follower.ready.is_set():
        return None
    return json_error(web, 503, None, "the catalog is still being read from Kafka; retry shortly", {"Retry-After": "1"})


def _item_error(web, error: ItemError):
    return json_error(web, error.status, error.field, error.reason)


@app.page("/items")
class Items(View):
    async def get(self, request):
        if loading := _loading(self):
            return loading
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            return json_error(self, 400, "limit", f"limit must be a whole number from 1 to {MAX_LIMIT}")
        page = catalog.page(limit=limit, after=request.query.get("after"),
                            category=request.query.get("category"), brand=request.query.get("brand"))
        following = page[-1]["item_id"] if len(page) == limit else None
        return self.json({"items": page, "next": following, "total": len(catalog)})


@app.page("/items/{item_id}")
class OneItem(View):
    async def get(self, request, item_id: str):
        if loading := _loading(self):
            return loading
        item = catalog.get(item_id)
        if item is None:
            return json_error(self, 404, "item_id", f"no item {item_id!r}")
        return self.json(item)

    async def put(self, request, item_id: str):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        if loading := _loading(self):
            return loading
        body = await read_body(request, MAX_ITEM_BYTES)
        try:
            if not body.strip():
                raise ItemError(None, "the request body must hold the item as a JSON object")
            item = parse_item_json(body, item_id=item_id)
        except ItemError as error:
            return _item_error(self, error)
        change = catalog.change_of(item)
        if change != "unchanged":
            if refused := await write_visible(self, items_topic.send(key=item_id, value=orjson.dumps(item)),
                                              lambda: catalog.get(item_id) == item, POLL):
                return refused
        return self.json({"item_id": item_id, "change": change, "item": item})

    async def delete(self, request, item_id: str):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        if loading := _loading(self):
            return loading
        if item_id not in catalog:
            return json_error(self, 404, "item_id", f"no item {item_id!r}")
        if refused := await write_visible(self, items_topic.send(key=item_id, value=None),
                                          lambda: item_id not in catalog, POLL):
            return refused
        return self.json({"item_id": item_id, "change": "deleted"})
