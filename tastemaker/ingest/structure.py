"""The shape of a JSON value: what no stage, store or encoder can carry, found before anything is stored.

    message (parsed JSON) ──structure_problem──▶ None: every stage can carry it
                                              └─▶ Invalid(field path, reason): refused (collector 400,
                                                  ingest dead letter, internal items dead-lettered)

The Segment schema checks the envelope (``segment_schema``); ``properties``, ``traits``, ``context`` and
``integrations`` are free-form objects. Refused anywhere inside them:

- *Nesting deeper than* ``MAX_DEPTH`` *(32) levels*, the message itself being the first. orjson parses up to
  1,024 levels but encodes at most 254, so before this check a record nested 255-1,024 deep was parsed,
  then failed every re-encoding (``TypeError('Recursion limit reached')``) and stopped the stage that tried.
  32 is far above what real events use (Segment payloads nest 3-5 levels: ``context.page``,
  ``properties.products[0]``) and far below 254, which leaves room for every envelope a record later travels
  in (a bundle item wraps an event 2 levels deeper, a profile keeps traits 3 levels down, an ``absorb``
  command carries a whole profile), and keeps code that walks values recursively far from Python's
  recursion limit.
- *Numbers no JSON encoder writes back:* integers outside 64 bits (orjson cannot encode them). NaN and
  infinities never come out of parsing (orjson refuses ``NaN``, ``Infinity`` and ``1e400``: "not valid
  JSON"); ``walk`` refuses a Python caller's, which orjson would otherwise write as ``null``.
- *Strings that are not Unicode text:* lone surrogates (orjson cannot encode them; invalid UTF-8 never
  parses in the first place).
- *Object keys that are not strings, or contain a NUL character:* a key names a field; a NUL in one is
  never a real name, only binary data or an attempt to cut a path short in some downstream system.
  NUL characters inside string *values* are kept: they are valid JSON text and every stage writes them
  back escaped (``\\u0000``). Ids are held to the stricter rule in ``collect.check``.
- *Anything that is not a JSON value* (sets, bytes, objects from a Python caller).

Cost: on the common path two byte counts over the message's JSON, which the caller has anyway (~0.3 µs
for 1 KB). Only a value those counts cannot clear (more than ``MAX_DEPTH`` brackets, or a ``\\u0000``
escape) is walked, iteratively (no recursion, whatever the depth), up to the first problem, named by its
path: ``traits.a.a.a.a.a.a.a...`` (the first ``PATH_SEGMENTS`` segments, keys cut to ``KEY_CHARS``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from tastemaker.ingest.segment_schema import Invalid

MAX_DEPTH = 32  # levels, the message itself the first: see the module docstring for why 32
PATH_SEGMENTS = 8  # a field path names at most this many segments, then "..."
KEY_CHARS = 40  # each key in a field path is cut to this many characters
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson encodes (signed and unsigned 64 bits)


def structure_problem(
    value: Any, *, encoded: bytes | None = None, max_depth: int = MAX_DEPTH, prefix: str = ""
) -> Invalid | None:
    """None when every part of ``value`` can be stored and re-encoded, else the first problem and its path.

    ``encoded``: ``value`` as JSON, when the caller has it (the raw record, or the bytes it will store); it
    makes the common case cost two byte counts instead of a walk over every value: a text with at most
    ``max_depth`` brackets cannot nest deeper, and one without ``\\u0000`` has no NUL anywhere. Without
    it the value is encoded here (orjson refusing it is a problem too). ``prefix`` is prepended to paths."""
    if encoded is None:
        try:
            encoded = orjson.dumps(value)
        except TypeError as exc:  # too deep, a lone surrogate, a huge integer, a non-JSON type: find where
            return walk(value, max_depth=max_depth, prefix=prefix) or Invalid(prefix or None, f"not JSON: {exc}")
    if encoded.count(b"{") + encoded.count(b"[") <= max_depth and b"\\u0000" not in encoded:
        return None
    return walk(value, max_depth=max_depth, prefix=prefix)


def walk(value: Any, *, max_depth: int = MAX_DEPTH, prefix: str = "") -> Invalid | None:
    """``structure_problem`` by visiting every value (what it falls back to when the fast checks cannot
    clear a value); also what a value not parsed from JSON needs (NaN, which orjson writes as null)."""
    if not isinstance(value, (dict, list)):
        problem = _scalar_problem(value)
        return None if problem is None else Invalid(prefix or None, problem)
    # (container, depth, path as a tuple of segments); the path is only turned into text on failure.
    stack: list[tuple[Any, int, tuple]] = [(value, 1, ())]
    while stack:
        container, depth, path = stack.pop()
        if depth > max_depth:
            return Invalid(_path(prefix, path), f"nested more than {max_depth} levels deep")
        if isinstance(container, dict):
            for key in container:
                if type(key) is not str:
                    return Invalid(_path(prefix, path), "object keys must be strings")
                if "\x00" in key:
                    return Invalid(_path(prefix, path + (key,)), "field names must not contain a NUL character")
            pairs = container.items()
        else:
            pairs = enumerate(container)
        for key, item in pairs:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1, path + (key,)))
            else:
                problem = _scalar_problem(item)
                if problem is not None:
                    return Invalid(_path(prefix, path + (key,)), problem)
    return None


def _scalar_problem(value: Any) -> str | None:
    kind = type(value)
    if value is None or kind is bool:
        return None
    if kind is int or (isinstance(value, int) and not isinstance(value, bool)):
        return None if _INT_MIN <= value <= _INT_MAX else "integer outside the 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number (not NaN or infinite)"
    if isinstance(value, str):
        return None if value.isascii() or _is_text(value) else "not valid Unicode text (lone surrogate)"
    if isinstance(value, (dict, list)):
        return None
    return f"not a JSON value ({type(value).__name__})"


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path(prefix: str, segments: tuple) -> str | None:
    text = prefix
    for n, segment in enumerate(segments):
        if n == PATH_SEGMENTS:
            return text + "..."
        if type(segment) is int:
            text += f"[{segment}]"
        else:
            name = segment[:KEY_CHARS].replace("\x00", "\\u0000")
            text = f"{text}.{name}" if text else name
    return text or None
