"""A person's traits (identify calls, rule actions), bounded in keys and value size.

State: a flat JSON object, ``{"plan": "pro", "age": 41, "address": {"city": "Lyon"}}``. A later value
replaces an earlier one; a None value removes the trait. Strings longer than ``value_max_chars`` are cut;
numbers and booleans are kept; lists and objects are kept only if their JSON is within ``value_max_chars``
(an object that large is not a trait to personalize on). Keys beyond ``max_keys`` are ignored (the traits
already held keep being updated; removals in an update are applied first), and keys in ``excluded`` are never stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class TraitsConfig:
    max_keys: int = 30
    """Traits kept per person."""
    key_max_chars: int = 64
    """Longer trait names are ignored."""
    value_max_chars: int = 128
    """Strings are cut to this length; lists and objects whose JSON is longer are ignored."""
    excluded: frozenset[str] = frozenset({"password"})
    """Trait names never stored (Segment's reserved ``password``)."""


DEFAULT = TraitsConfig()
_DROP = object()


def _value(value: Any, config: TraitsConfig) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if isinstance(value, str):
        return value[: config.value_max_chars]
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return _DROP
    return value if len(encoded) <= config.value_max_chars else _DROP


def update(traits: Mapping[str, Any] | None, incoming: Mapping[str, Any], config: TraitsConfig = DEFAULT) -> dict[str, Any]:
    """``traits`` with ``incoming`` applied over them."""
    merged = dict(traits or {})
    # Removals first: an update that removes one trait and adds another fits within max_keys.
    for key, value in sorted(incoming.items(), key=lambda kv: kv[1] is not None):
        if not isinstance(key, str) or not key or len(key) > config.key_max_chars or key in config.excluded:
            continue
        value = _value(value, config)
        if value is _DROP:
            continue
        if value is None:
            merged.pop(key, None)
        elif key in merged or len(merged) < config.max_keys:
            merged[key] = value
    return merged
