"""Validation of Segment-spec messages (track, page, screen, identify, alias, group).

Library: fastjsonschema compiles the JSON Schema below into plain Python once, which validates a typical
message in a few microseconds: the collector's 20,000 events/s goal leaves ~50 us per event for
everything, and the reference ``jsonschema`` package spends far more than that per message.

Segment's own libraries send ``userId`` as a string, some as a number; ``anonymousId`` the same. Every
message must name somebody: ``userId`` or ``anonymousId`` (Segment rejects messages with neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fastjsonschema

ID = {"type": ["string", "integer"], "minLength": 1, "maxLength": 512}
TEXT = {"type": "string", "maxLength": 1024}
TIME = {"type": "string", "format": "date-time"}
OBJECT = {"type": "object"}

MESSAGE_TYPES = ("track", "page", "screen", "identify", "alias", "group")

# Fields a message type requires beyond the common ones.
REQUIRED_BY_TYPE = {"track": ["event"], "alias": ["previousId", "userId"], "group": ["groupId"]}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"enum": list(MESSAGE_TYPES)},
        "messageId": {"type": "string", "minLength": 1, "maxLength": 256},
        "userId": ID,
        "anonymousId": ID,
        "previousId": ID,
        "groupId": ID,
        "event": {"type": "string", "minLength": 1, "maxLength": 512},
        "name": TEXT,
        "category": TEXT,
        "timestamp": TIME,
        "originalTimestamp": TIME,
        "sentAt": TIME,
        "context": OBJECT,
        "properties": OBJECT,
        "traits": OBJECT,
        "integrations": OBJECT,
    },
    "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
    "allOf": [
        {"if": {"required": ["type"], "properties": {"type": {"const": kind}}}, "then": {"required": fields}}
        for kind, fields in REQUIRED_BY_TYPE.items()
    ],
}

_validate = fastjsonschema.compile(SCHEMA)
# The same schema with the message type's "if" already decided, one per type: fastjsonschema evaluates an
# "if" that does not hold by raising and catching an exception, two per track message, which was a third of
# the validation time. Same checks in the same order, so the same first problem is reported.
_VALIDATE_BY_TYPE = {
    kind: fastjsonschema.compile({**SCHEMA, "allOf": [{"required": REQUIRED_BY_TYPE[kind]}] if kind in REQUIRED_BY_TYPE else []})
    for kind in MESSAGE_TYPES
}
# And without the "anyOf", for a message that names an id (the anyOf holds): fastjsonschema tries each
# alternative by raising and catching, once for every message without a userId (most of them: anonymous
# visitors), ~3 us of ~10. Which check runs first is unchanged, so the first problem is the same one.
_VALIDATE_NAMED = {
    kind: fastjsonschema.compile({key: value for key, value in
                                  {**SCHEMA, "allOf": [{"required": REQUIRED_BY_TYPE[kind]}] if kind in REQUIRED_BY_TYPE else []}.items()
                                  if key != "anyOf"})
    for kind in MESSAGE_TYPES
}


@dataclass(frozen=True)
class Invalid:
    """Why a message was refused: the field (dotted path, ``None`` for the whole message) and the reason."""

    field: str | None
    reason: str
    #: The HTTP status a single-message request gets for it (413 for a message over the size limit).
    status: int = 400

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "reason": self.reason}


def validate(message: Any) -> Invalid | None:
    """None when ``message`` is a valid Segment message, else the first problem found."""
    if not isinstance(message, dict):
        return Invalid(None, "a message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str):
        check = _validate
    elif "anonymousId" in message or "userId" in message:
        check = _VALIDATE_NAMED.get(kind, _validate)
    else:
        check = _VALIDATE_BY_TYPE.get(kind, _validate)
    try:
        check(message)
    except fastjsonschema.JsonSchemaValueException as exc:
        return _explain(exc, message)
    return None


def _explain(exc: fastjsonschema.JsonSchemaValueException, message: dict) -> Invalid:
    # fastjsonschema names the failing value "data.<path>"; the anyOf/if-then rules fail on the whole
    # message, where a person needs to be told which field is missing.
    path = exc.name[len("data") :].lstrip(".") or None
    if path is None:
        if exc.rule == "anyOf":
            return Invalid("userId", "userId or anonymousId is required")
        if exc.rule == "required" and isinstance(exc.rule_definition, list):
            missing = next((f for f in exc.rule_definition if f not in message), exc.rule_definition[0])
            if missing == "type":
                return Invalid("type", "type is required")
            return Invalid(missing, f"{missing} is required for {message['type']} messages")
    reason = exc.message.replace(exc.name, path or "message", 1)
    return Invalid(path, reason)
