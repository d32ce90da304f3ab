"""The rules admin API (token-protected): validate, apply, list, read, enable/disable and delete rules.

    POST   /rules/validate          body: a rule (YAML or JSON)   200 {"valid": true, "rule": {...}} | 422
    PUT    /rules/{id}              body: the rule                200 {"rule_id", "change", "version"} | 409 | 422
    GET    /rules                   every rule in force, with its document
    GET    /rules/{id}              one rule's document | 404
    POST   /rules/{id}/disable      (and /enable) a new version with enabled false (true)
    DELETE /rules/{id}              a tombstone on the rules topic

Every call takes an admin token, ``Authorization: Bearer <one of TASTEMAKER_ADMIN_TOKENS>`` (app/web/auth.py):
401 without one, 403 for a token of another scope; with none configured every call is refused.
Changes go to the compacted rules topic (app/rulebook.py), which every worker follows; the answer comes once
this worker's own copy shows the change, so a GET right after a PUT sees it (app/web/kafka_writes.py
``write_visible``: 504 when it does not within ``VISIBLE_WITHIN``, 10 s).
"""

from __future__ import annotations

import orjson
from faust.web import View

from app.main import app
from app.rulebook import rulebook
from app.topics import rules as rules_topic
from app.web.auth import ADMIN_ONLY, require
from app.web.bodies import read_body
from app.web.errors import json_error
from app.web.kafka_writes import write_visible
from tastemaker.rules import RuleError, parse_rule
from tastemaker.rules.changes import Change, plan_apply, plan_delete, plan_enabled

MAX_BODY = 64 * 1024
POLL = 0.05  # seconds between looks at this worker's rulebook while a change comes back from Kafka


async def _document(request):
    body = await read_body(request, MAX_BODY)
    if len(body) > MAX_BODY:
        raise RuleError("document", f"is larger than {MAX_BODY // 1024} KB")
    if not body.strip():
        raise RuleError("document", "the request body must hold a rule (YAML or JSON)")
    return body


def _rule_error(web, error: RuleError, status: int = 422):
    return json_error(web, status, error.field, error.reason)


async def _write(web, change: Change):
    if change.writes:
        value = None if change.document is None else orjson.dumps(change.document)
        if refused := await write_visible(web, rules_topic.send(key=change.rule_id, value=value),
                                          lambda: rulebook.documents.get(change.rule_id) == change.document, POLL):
            return refused
    version = change.document["version"] if change.document else None
    return web.json({"rule_id": change.rule_id, "change": change.note, "version": version})


@app.page("/rules/validate")
class ValidateRule(View):
    async def post(self, request):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        try:
            rule = parse_rule(await _document(request))
        except RuleError as error:
            return _rule_error(self, error)
        return self.json({"valid": True, "rule": rule.document})


@app.page("/rules")
class Rules(View):
    async def get(self, request):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        return self.json({"rules": [rulebook.documents[i] for i in sorted(rulebook.documents)]})


@app.page("/rules/{rule_id}")
class OneRule(View):
    async def get(self, request, rule_id: str):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        if rule_id not in rulebook.documents:
            return json_error(self, 404, "id", f"no rule {rule_id!r}")
        return self.json(rulebook.documents[rule_id])

    async def put(self, request, rule_id: str):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        try:
            rule = parse_rule(await _document(request))
            if rule.id != rule_id:
                raise RuleError("id", f"the document's id {rule.id!r} is not the path's {rule_id!r}")
            change = plan_apply(rulebook.documents, rule.document)
        except RuleError as error:
            return _rule_error(self, error, 409 if error.field == "version" else 422)
        return await _write(self, change)

    async def delete(self, request, rule_id: str):
        if refused := require(self, request, ADMIN_ONLY):
            return refused
        try:
            change = plan_delete(rulebook.documents, rule_id)
        except RuleError as error:
            return _rule_error(self, error, 404)
        return await _write(self, change)


def _toggle(enabled: bool) -> type[View]:
    class Toggle(View):
        async def post(self, request, rule_id: str):
            if refused := require(self, request, ADMIN_ONLY):
                return refused
            try:
                change = plan_enabled(rulebook.documents, rule_id, enabled)
            except RuleError as error:
                return _rule_error(self, error, 404)
            return await _write(self, change)

    Toggle.__name__ = Toggle.__qualname__ = "EnableRule" if enabled else "DisableRule"
    return Toggle


app.page("/rules/{rule_id}/enable", name="enable_rule")(_toggle(True))
app.page("/rules/{rule_id}/disable", name="disable_rule")(_toggle(False))
