"""``GET /profiles/{id}``: a person's profile, asked for by any of their ids (userId or anonymousId); the
person commands (``POST /profiles/{id}/opt-out`` ...) and forgetting (``DELETE /profiles/{id}``).

Two owners are involved: the id's partition of ``identities`` (which person?) and the person's partition of
``profiles``. Any worker can be asked: ``table_route`` forwards the request to the id's owner, which resolves
the person and reads the profile itself or asks the person's owner (``GET /persons/{person}``), following a
person merged into another to that other (app/web/owners.py: ``ask_owner``, ``follow_merges``).

Access (app/web/auth.py): reading takes a read token or the visitor's own token; commands an admin token or
the visitor's own token; forgetting an admin token; ``/ids/..`` and ``/persons/..`` the peer or an admin token.
The receiving worker checks before it forwards, and the owner checks again: ``table_route`` forwards the
request's headers, so the same credential arrives there.
"""

from __future__ import annotations

import time

import orjson

from faust.web import View

from agents.bundle_io import send_bundles
from app.main import app, settings
from app.topics import events_by_id
from app.web.auth import ADMIN_ONLY, INTERNAL, PERSON_CHANGE, PERSON_READ, require
from app.web.bodies import read_body
from app.web.errors import json_error
from app.web.kafka_writes import bounded
from app.web.owners import ask_owner, follow_merges, person_path
from tables.identities import identities
from tables.profiles import profiles
from tastemaker import behaviour, bundles
from tastemaker.identity import person_of


@app.page("/profiles/{profile_id}")
class Profile(View):
    async def get(self, request, profile_id: str):
        """The person's profile view (a read token, or the visitor's own token)."""
        if refused := require(self, request, PERSON_READ, profile_id):
            return refused
        return await _profile_view(self, request, profile_id)

    async def delete(self, request, profile_id: str):
        """Forget the person: profile, sessions, windows, rule state, identity links (admin token)."""
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        return await _command(self, profile_id, "forget")


@app.table_route(table=identities, match_info="profile_id")
async def _profile_view(web, request, profile_id: str):
    # Past MAX_HOPS (a chain too long, a cycle) the state is the last tombstone read, which keeps the profile it
    # handed over, shown under the person it names.
    person, state, _ = await follow_merges(person_of(identities.get(profile_id), profile_id), _person_state)
    if not state or not state.get("profile") or not state["profile"]["events"]:
        return json_error(web, 404, "id", "no events seen for this id")
    return web.json({"id": profile_id, "person": person, **behaviour.public_view(state, time.time())})


def _command_view(command: str) -> type[View]:
    class Command(View):
        async def post(self, request, profile_id: str):
            if refused := require(self, request, PERSON_CHANGE, profile_id):
                return refused
            return await _command(self, profile_id, command)

    Command.__name__ = Command.__qualname__ = f"{command.title().replace('_', '')}Command"
    return Command


# The visitor (their own token, from the page) or a site's server (admin token) on the visitor's behalf.
app.page("/profiles/{profile_id}/reset", name="profile_reset")(_command_view("reset"))
app.page("/profiles/{profile_id}/opt-out", name="profile_opt_out")(_command_view("opt_out"))
app.page("/profiles/{profile_id}/opt-in", name="profile_opt_in")(_command_view("opt_in"))


MAX_CHOICES = 20  # onboarding answers per kind
MAX_NAME = 200


def _text(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ValueError(field, f"{field} must be a non-empty string of at most {MAX_NAME} characters")
    return value.strip()


def not_interested_args(body) -> dict:
    """``{"item_id": .., "category": .., "undo": false}``: at least one of item_id and category."""
    if not isinstance(body, dict):
        raise ValueError(None, "the body must be a JSON object")
    unknown = sorted(set(body) - {"item_id", "category", "undo"})
    if unknown:
        raise ValueError(unknown[0], f"unknown field {unknown[0]!r}: item_id, category, undo")
    if body.get("item_id") is None and body.get("category") is None:
        raise ValueError("item_id", "name an item_id or a category")
    if not isinstance(body.get("undo", False), bool):
        raise ValueError("undo", "undo must be true or false")
    return {name: _text(body[name], name) for name in ("item_id", "category") if body.get(name) is not None}


def preferences_args(body) -> dict:
    """``{"categories": [..], "brands": [..]}``: onboarding answers."""
    if not isinstance(body, dict):
        raise ValueError(None, "the body must be a JSON object")
    unknown = sorted(set(body) - {"categories", "brands"})
    if unknown:
        raise ValueError(unknown[0], f"unknown field {unknown[0]!r}: categories, brands")
    args = {}
    for name in ("categories", "brands"):
        values = body.get(name) or []
        if not isinstance(values, list) or len(values) > MAX_CHOICES:
            raise ValueError(name, f"{name} must be a list of at most {MAX_CHOICES} strings")
        args[name] = [_text(v, f"{name}[{n}]") for n, v in enumerate(values)]
    if not args["categories"] and not args["brands"]:
        raise ValueError("categories", "name at least one category or brand")
    return args


MAX_BODY = 16 * 1024


async def _body_json(request):
    body = await read_body(request, MAX_BODY)
    if len(body) > MAX_BODY:
        raise ValueError(None, f"the body is larger than {MAX_BODY // 1024} KB")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValueError(None, "the body is not JSON") from None


@app.page("/profiles/{profile_id}/not-interested")
class NotInterested(View):
    """"Not interested" in an item or a category (``"undo": true`` takes it back); own token or admin."""

    async def post(self, request, profile_id: str):
        if refused := require(self, request, PERSON_CHANGE, profile_id):
            return refused
        try:
            body = await _body_json(request)
            args = not_interested_args(body)
        except ValueError as bad:
            return json_error(self, 400, *bad.args)
        command = "undo_not_interested" if body.get("undo") else "not_interested"
        return await _command(self, profile_id, command, args)


@app.page("/profiles/{profile_id}/preferences")
class Preferences(View):
    """Onboarding answers: categories and brands the person chose; they seed the profile."""

    async def post(self, request, profile_id: str):
        if refused := require(self, request, PERSON_CHANGE, profile_id):
            return refused
        try:
            args = preferences_args(await _body_json(request))
        except ValueError as bad:
            return json_error(self, 400, *bad.args)
        return await _command(self, profile_id, "preferences", args)


async def _command(web, raw_id: str, command: str, args: dict | None = None):
    """Commands travel like events: to the id's partition of the identity stage, which hands them to the
    person's partition, where they are applied in order with the person's events. Answered once Kafka
    has them (202): applying takes a moment."""
    writer = bundles.BundleWriter(settings.partitions)
    body = {"kind": "command", "command": command, "at": time.time(), **({"args": args} if args else {})}
    writer.add(bundles.item(raw_id, body))
    if unavailable := await bounded(web, send_bundles(events_by_id, writer)):
        return unavailable
    return web.json({"id": raw_id, "command": command, "status": "accepted"}, status=202)


@app.page("/ids/{raw_id}")
async def get_id(web, request, raw_id: str):
    """An id's link to its person, for operators (404: the id is its own person, or unknown)."""
    if refused := require(web, request, INTERNAL):
        return refused
    return await _id_link(web, request, raw_id)


@app.table_route(table=identities, match_info="raw_id")
async def _id_link(web, request, raw_id: str):
    state = identities.get(raw_id)
    if state is None:
        return json_error(web, 404, "raw_id", "no link stored for this id")
    return web.json({"id": raw_id, **state})


@app.page("/persons/{person_id}")
async def get_person(web, request, person_id: str):
    """A person's raw state (ids, watermarks, tombstone, profile), for the profile view and operators."""
    if refused := require(web, request, INTERNAL):
        return refused
    return await _raw_state(web, request, person_id)


@app.table_route(table=profiles, match_info="person_id")
async def _raw_state(web, request, person_id: str):
    state = profiles.get(person_id)
    if state is None:
        return json_error(web, 404, "person_id", "no such person")
    return web.json(state)


async def _person_state(person: str) -> dict | None:
    """The person's raw state from its owner (this worker's table, or ``GET /persons/{person}`` there: None
    for a 404); an owner that does not answer raises (no timeout but the HTTP client's own)."""
    return await ask_owner(profiles, person, person_path(person), here=lambda: profiles.get(person), missing=None)
