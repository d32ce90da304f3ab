"""CEL's values and operators on Python values, as the cel library this project runs has them (common-
expression-language 0.10, the Rust cel crate 0.14), measured on it: what compiled.py's closures and
inlined.py's generated functions compute with, so that evaluating a condition converts nothing into CEL.
tests/unit/test_rules_compiled.py compares them with the library on generated and hand-written conditions and
contexts (the same result and the same why, or both an error):

* values: None is null, bool, int (int64), float (double), str, list, dict (a map with string keys);
* ``==``/``!=`` never fail: values of different types are unequal, except numbers: an int and a double
  compare as doubles (``1 == 1.0``, ``[1] == [1.0]``); lists and maps element by element (NaN is unequal);
* ``<`` ``<=`` ``>`` ``>=`` on two numbers (an int against a double: as doubles), two strings or two bools;
  anything else, and NaN, is an error;
* ``+ - * / %`` only between values of one type (no implicit conversion): int64 (overflow and division by
  zero are errors; ``/`` and ``%`` truncate towards zero), double (``%`` is an error; ``x / 0.0`` is
  infinite), string and list ``+``; unary ``-`` negates a number (int64's minimum wraps around) or a bool;
* ``&&``/``||`` absorb errors as cel-rust evaluates them, on the balanced tree its parser builds of a chain:
  the left operand first, the right one only if the left does not decide; ``false && error`` is false,
  ``error || true`` is true, an error otherwise (the right operand's, else the left one's: ``logic_error``);
* ``x in list`` (by ``==``), ``key in map``; a field of a map (a missing key: ``KeyError``), ``list[int]``,
  ``map[string]``; ``size`` (of a string: its UTF-8 bytes), ``int``, ``double``, ``string`` where the
  argument's type makes the answer certain.

A value outside this model (an int beyond int64, a mapping that is not a dict, ...) raises ``Unsure``; an
error whose exact exception is not modelled is ``Fail(None)``: the cel library then evaluates the condition
(compiled.py).
"""

from __future__ import annotations

import math
import re
from typing import Any

import cel

I64_MIN, I64_MAX = -(2 ** 63), 2 ** 63 - 1
NoneType = type(None)
KNOWN = frozenset({NoneType, bool, int, float, str, list, dict})  # the Python types of CEL values modelled here
MISSING = object()


class Fail(Exception):
    """A CEL error value. ``error``: the exception the cel library raises for it, or None when its exact
    message is not modelled (the library is then asked, if this error becomes the result)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None = None) -> None:
        super().__init__()
        self.error = error


class Unsure(Exception):
    """The value at hand is outside what this module models: the condition is evaluated by the cel library."""


def _library_error(source: str) -> tuple[type[BaseException], str]:
    try:
        cel.evaluate(source)
    except Exception as error:  # noqa: BLE001 - the library's own exception for a known case
        return type(error), str(error)
    raise AssertionError(f"{source!r} is expected to fail in the cel library")


# The library's exception for an operation without an overload for its operands (``!1``, ``null < 1``).
_NSO_TYPE, _NSO_TEXT = _library_error("!1")


def no_overload() -> Fail:
    return Fail(_NSO_TYPE(_NSO_TEXT))


def no_key(key: str) -> Fail:
    return Fail(KeyError(key))


# --- values -----------------------------------------------------------------------------------------------

def int64(value: int) -> int:
    if I64_MIN <= value <= I64_MAX:
        return value
    raise Unsure  # an int beyond int64: the library makes it a uint or a double


def eq(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is str or ta is bool or ta is NoneType or ta is float:
            return a == b
        if ta is int:
            return int64(a) == int64(b)
        if ta is list:
            if len(a) != len(b):
                return False
            for x, y in zip(a, b):
                if not eq(x, y):
                    return False
            return True
        if ta is dict:
            if len(a) != len(b):
                return False
            for key, x in a.items():
                if type(key) is not str:
                    raise Unsure
                if key not in b or not eq(x, b[key]):
                    return False
            return True
        raise Unsure
    if (ta is int or ta is float) and (tb is int or tb is float):
        return float(int64(a) if ta is int else a) == float(int64(b) if tb is int else b)
    if ta in KNOWN and tb in KNOWN:
        return False
    raise Unsure


def ordered(a: Any, b: Any) -> tuple[Any, Any]:
    """``a`` and ``b`` as Python compares them as CEL orders them; raises the CEL error otherwise."""
    ta, tb = type(a), type(b)
    if ta is tb:
        if ta is int:
            return int64(a), int64(b)
        if ta is float:
            if a != a or b != b:
                raise no_overload()
            return a, b
        if ta is str or ta is bool:
            return a, b
    elif (ta is int or ta is float) and (tb is int or tb is float):
        x, y = float(int64(a) if ta is int else a), float(int64(b) if tb is int else b)
        if x != x or y != y:
            raise no_overload()
        return x, y
    if ta in KNOWN and tb in KNOWN:
        raise no_overload()
    raise Unsure


def lt(a: Any, b: Any) -> bool:
    x, y = ordered(a, b)
    return x < y


def le(a: Any, b: Any) -> bool:
    x, y = ordered(a, b)
    return x <= y


def gt(a: Any, b: Any) -> bool:
    x, y = ordered(a, b)
    return x > y


def ge(a: Any, b: Any) -> bool:
    x, y = ordered(a, b)
    return x >= y


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def contained(item: Any, container: Any) -> bool:
    kind = type(container)
    if kind is list:
        for element in container:
            if eq(item, element):
                return True
        return False
    if kind is dict:
        if type(item) is str:
            return item in container
        raise Unsure
    if kind is str:
        raise no_overload()
    raise Unsure


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _checked(value: int) -> int:
    if I64_MIN <= value <= I64_MAX:
        return value
    raise Fail()  # overflow: an error, in the library's words


def _float_div(a: float, b: float) -> float:
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return float("nan")
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def arithmetic(op: str, a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is not tb:
        if ta in KNOWN and tb in KNOWN:
            raise Fail()  # no implicit conversion
        raise Unsure
    if ta is int:
        a, b = int64(a), int64(b)
        if op == "+":
            return _checked(a + b)
        if op == "-":
            return _checked(a - b)
        if op == "*":
            return _checked(a * b)
        if b == 0 or (a == I64_MIN and b == -1):
            raise Fail()  # division by zero, overflow
        if op == "/":
            return _trunc_div(a, b)
        return a - b * _trunc_div(a, b)
    if ta is float:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return _float_div(a, b)
        raise Fail()  # double % double
    if ta is str or ta is list:
        if op == "+":
            return a + b
        raise Fail()
    if ta in KNOWN:
        raise Fail()
    raise Unsure


def select(value: Any, field: str) -> Any:
    if type(value) is dict:
        try:
            return value[field]
        except KeyError:
            raise no_key(field) from None
    raise not_a_map(value)


def not_a_map(value: Any) -> Exception:
    kind = type(value)
    if kind is list:
        return Fail()  # a list's index must be an int
    if kind in KNOWN:
        return no_overload()
    return Unsure()


def index(value: Any, key: Any) -> Any:
    kind, key_kind = type(value), type(key)
    if kind is list:
        if key_kind is int:
            if 0 <= key < len(value):
                return value[key]
            if I64_MIN <= key <= I64_MAX:
                raise Fail()  # out of bounds
        elif key_kind in KNOWN:
            raise Fail()  # not an int or uint
        raise Unsure
    if kind is dict:
        if key_kind is str:
            try:
                return value[key]
            except KeyError:
                raise no_key(key) from None
        raise Unsure
    raise Unsure


def iterated(value: Any) -> list:
    """What a macro visits: a list's elements, a map's keys."""
    kind = type(value)
    if kind is list:
        return value
    if kind is dict:
        for key in value:
            if type(key) is not str:
                raise Unsure
        return list(value)
    if kind in (NoneType, bool, int, float, str):
        raise no_overload()
    raise Unsure


def plain(value: Any) -> bool:
    """Whether the library would hand this value to a Python function unchanged (a map's keys it reorders)."""
    kind = type(value)
    if kind is str or kind is bool or kind is NoneType or kind is float:
        return True
    if kind is int:
        return I64_MIN <= value <= I64_MAX
    if kind is list:
        return all(plain(item) for item in value)
    return False


def str_in(item: str, container: Any) -> bool:
    """``"literal" in x``: a list's elements compare with a string only if they are strings."""
    kind = type(container)
    if kind is list or kind is dict:
        return item in container
    return contained(item, container)


def logic_error(outcomes: list, lo: int, hi: int, decisive: bool) -> Fail:
    """The error cel-rust gives for the balanced tree over ``outcomes[lo..hi+1]`` (ops lo..hi), none of which
    is decisive: an operator gives its right operand's error, else (the right is the neutral boolean or not
    a boolean) the left one's; a non-boolean is the no-overload error."""
    def result(lo: int, hi: int) -> Any:  # True/False (neutral) or a Fail
        mid = (lo + hi + 1) // 2
        left = outcomes[mid] if mid == lo else result(lo, mid - 1)
        right = outcomes[mid + 1] if mid == hi else result(mid + 1, hi)
        if isinstance(right, Fail):
            return right
        neutral = not decisive
        if left is neutral:
            return neutral if right is neutral else no_overload()
        return left if isinstance(left, Fail) else no_overload()

    outcome = result(lo, hi)
    return outcome if isinstance(outcome, Fail) else Fail()


INT_TEXT = re.compile(r"[+-]?[0-9]{1,18}")
DOUBLE_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def size(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return len(value) if value.isascii() else len(value.encode("utf-8"))  # the library counts bytes
    if kind is list or kind is dict:
        return len(value)
    if kind in KNOWN:
        raise Fail()
    raise Unsure


def to_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return int64(value)
    if kind is float and -(2.0 ** 62) < value < 2.0 ** 62:
        return int(value)  # truncated
    if kind is str and INT_TEXT.fullmatch(value):
        return int(value)
    raise Unsure


def to_double(value: Any) -> float:
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        return float(int64(value))
    if kind is str and DOUBLE_TEXT.fullmatch(value):
        return float(value)
    raise Unsure


def to_string(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(int64(value))
    raise Unsure  # a double is formatted the Rust way
