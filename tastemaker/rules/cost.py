"""The worst-case cost of a condition on one event, estimated from its syntax tree when the rule is applied,
so that no accepted rule can take more than ``BUDGET`` per event (a rule's ``when`` and ``unless`` together).

The binding (common-expression-language 0.10, the Rust ``cel`` crate) has no cost limit of its own and no
way to stop an evaluation. CEL has no loops besides the comprehension macros and always terminates, so the
cost is bounded by the tree and by the sizes of the data it reads, which are bounded too (``SHAPES``: each
variable's fields with the caps that hold them: 50 cart items, 200 counted names, 32 KB per event, ...).
The estimate follows cel-go's cost estimator (checker/cost.go): every node costs a step; a comprehension
costs its body once per element of the largest list its range can be; strings cost by length; calls by
what they do; and, as this binding does it, a ``map``/``filter`` result is rebuilt on every element
(measured: quadratic), ``matches`` compiles its regex on every call (``\\w`` alone: ~300 us; the estimate
takes the pattern's compiled size, ``regex_weight``), a helper is a Python callback (~2 us), and each
field read is converted from Python into CEL (~2.3 us per string, ~19 us per cart item).

Units: one unit is about 0.1 us of CPU on the reference machine (2 shared cores, Python 3.11).
bench/rules_micro.py ``--cost`` times typical conditions, the costliest shapes the budget accepts and some it
refuses, on data at the caps: measured 0.03 to 0.11 us per unit for every condition of 1,000 units or more
(the costliest accepted, a comprehension over a full cart: ~1.5 ms; refused ones up to ~19 ms; typical
conditions ~30 us, mostly the context's fixed cost). ``BUDGET`` = 20,000 units: at most ~2 ms per rule per
event in the worst case the data caps allow, enough for a comprehension over a full cart (50 items:
converting them alone is ~1 ms) or over every counted event name, not for one nested in another over the
same. Typical conditions estimate 100 to 2,000 units.

Also refused, before any estimate: nesting deeper than ``MAX_NESTING`` (cel_ast.py), ``matches`` with a
pattern that is not a string literal (its cost would depend on the data), and anything the tree does
not model (cel_ast.Unsupported).

The estimate is of the cel library's evaluation. Conditions compiled into Python (compiled.py) convert
nothing and do less: the same ``--cost`` run times them too (~0 to ~0.2 ms where the library takes ~0.02 to
~1 ms; what compiled.py leaves to the library, ``matches``, costs the library's). Since a compiled condition
can still leave an event to the library, the library's bound is the one held to the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from tastemaker.rules import cel_ast
from tastemaker.rules.cel_ast import (Call, Chain, Comprehension, Has, Ident, Index, ListLiteral, Literal, MapLiteral,
                                      Node, Select, Ternary, Unary)
from tastemaker.rules.cel_source import Selection

BUDGET = 20_000  # units (~0.1 us each) per rule per event, when and unless together
MAX_NESTING = 32  # levels of nesting (cel_ast.py); the examples use at most 5, a comprehension 6

# Costs in units (~0.1 us), from the measurements in bench/rules_micro.py --cost (rounded up).
STEP = 3  # a name, a field, an operator, a literal
ITERATION = 4  # a comprehension's own work per element (a new scope, the loop condition)
CALLBACK = 25  # a helper function: a call from the Rust interpreter into Python and back
CHARS_PER_UNIT = 32  # scanning or copying a string (contains, +): ~2.5 ns per character at worst
HASH_CHARS_PER_UNIT = 256  # hashing a string (a map look-up by key: in, [k]): ~0.25 ns per character
COMPARE_CHARS_PER_UNIT = 1_000  # comparing two strings (==, <, in a list): a memcmp, ~0.03 ns per character
COPY_PER_LEAF = 3  # copying one value into a new list (list +, map and filter results)
CONVERT_STRING = 25  # converting a Python str into CEL (~2.3 us); a map entry's key is one
CONVERT_NUMBER = 5
CONVERT_CONTAINER = 25  # a list or a dict
CONVERT_ANY_PER_BYTE = 10  # a value of unknown shape within B bytes of JSON: B/3 empty strings or lists at worst
REGEX_BASE = 80  # matches(): building the regex of the smallest pattern
REGEX_PER_WEIGHT = 4  # and per unit of the pattern's compiled size (regex_weight)


@dataclass(frozen=True)
class Shape:
    """The largest value an expression can have: ``num`` (numbers, booleans, null, times: constant size),
    ``str`` (``size`` characters), ``list``/``map`` (``size`` entries of ``item``; a map's keys are ``key``;
    ``fields``: the known fields of a record, whose other keys are absent) or ``any`` (data of unknown shape
    within ``size`` bytes of JSON)."""

    kind: str
    size: int = 0
    item: "Shape | None" = None
    key: "Shape | None" = None
    fields: Mapping[str, "Shape"] | None = field(default=None, hash=False)

    def entries(self) -> int:
        """The most elements a comprehension over it visits."""
        if self.kind == "list":
            return self.size
        if self.kind == "map":
            return len(self.fields) if self.fields is not None else self.size
        return self.size // 2 if self.kind == "any" else 0

    def element(self) -> "Shape":
        """What a comprehension's variable (or an index) gives: a list's item, a map's key."""
        if self.kind == "list":
            return self.item or NUM
        if self.kind == "map":
            return self.key or STR_ANY
        return self if self.kind == "any" else NUM

    def value(self, name: str | None = None) -> "Shape":
        """A field's (or a map value's) shape."""
        if self.kind == "map":
            if self.fields is not None:
                return self.fields.get(name, NUM) if name is not None else _join_all(self.fields.values())
            return self.item or NUM
        if self.kind == "list":
            return self.item or NUM
        return self if self.kind == "any" else NUM  # a field of a number or string: an error, at once

    def leaves(self) -> int:
        if self.kind == "list":
            return 1 + self.size * (self.item or NUM).leaves()
        if self.kind == "map":
            if self.fields is not None:
                return 1 + sum(1 + f.leaves() for f in self.fields.values())
            return 1 + self.size * (1 + (self.item or NUM).leaves())
        return 1 + self.size // 2 if self.kind == "any" else 1

    def chars(self) -> int:
        """The most string characters it holds."""
        if self.kind in ("str", "any"):
            return self.size
        if self.kind == "list":
            return self.size * (self.item or NUM).chars()
        if self.kind == "map":
            if self.fields is not None:
                return sum(len(name) + f.chars() for name, f in self.fields.items())
            return self.size * ((self.key or STR_ANY).chars() + (self.item or NUM).chars())
        return 0

    def json_bytes(self) -> int:
        """A bound of its JSON size (for joining shapes of different kinds)."""
        if self.kind in ("str", "any"):
            return self.size + 2
        if self.kind == "num":
            return 24
        return 2 + self.leaves() * 24 + self.chars() * 2

    def convert(self) -> int:
        """Units to convert it from Python into CEL (the evaluation context)."""
        if self.kind == "str":
            return CONVERT_STRING + self.size // 1000
        if self.kind == "list":
            return CONVERT_CONTAINER + self.size * (self.item or NUM).convert()
        if self.kind == "map":
            if self.fields is not None:
                return CONVERT_CONTAINER + sum(CONVERT_STRING + f.convert() for f in self.fields.values())
            return CONVERT_CONTAINER + self.size * ((self.key or STR_ANY).convert() + (self.item or NUM).convert())
        if self.kind == "any":
            return CONVERT_ANY_PER_BYTE * self.size
        return CONVERT_NUMBER


NUM = Shape("num")


def STR(n: int) -> Shape:  # noqa: N802 - a shape constructor
    return Shape("str", n)


def LIST(n: int, item: Shape) -> Shape:  # noqa: N802
    return Shape("list", n, item)


def MAP(n: int, key: Shape, item: Shape) -> Shape:  # noqa: N802
    return Shape("map", n, item, key)


def RECORD(**fields: Shape) -> Shape:  # noqa: N802
    return Shape("map", len(fields), None, None, fields)


def ANY(n: int) -> Shape:  # noqa: N802
    return Shape("any", n)


# The caps behind every bound (tests/unit/test_rules_cost.py checks them against their sources).
EVENT_BYTES = 32 * 1024  # tastemaker/ingest/collect.MAX_MESSAGE_BYTES: every string of an event is within it
ITEM_IDS, TAGS, TAG_CHARS = 50, 20, 64  # tastemaker/ingest/normalize.py
TRAIT_KEYS, TRAIT_KEY_CHARS, TRAIT_VALUE_CHARS = 30, 64, 128  # tastemaker/traits.TraitsConfig (also event traits:
#                                                             context.py bounds them the same way)
COUNTED_NAMES = 200  # tastemaker/profile.MAX_COUNTED_NAMES (names: event names, free text)
SEGMENTS, SEGMENT_CHARS = 50, 64  # ProfileConfig.segments_max, segment_max_chars
AFFINITY_KEYS, AFFINITY_KEY_CHARS = 20, 64  # AffinityConfig.top_n, key_max_chars
CART_ITEMS = 50  # ProfileConfig.cart_max_items
SESSION_PAGES = 4  # the session summary's pages: 2 x SessionConfig.summary_edge_pages
PATH_CHARS = 200  # SessionConfig.max_path_length
CONSENT_FIELDS = 2

STR_ANY = STR(EVENT_BYTES)
TRAITS = MAP(TRAIT_KEYS, STR(TRAIT_KEY_CHARS), ANY(TRAIT_VALUE_CHARS))

SHAPES: dict[str, Shape] = {
    "event": RECORD(
        type=STR(16), name=STR_ANY, item_ids=LIST(ITEM_IDS, STR_ANY), category=STR_ANY, brand=STR_ANY,
        tags=LIST(TAGS, STR(TAG_CHARS)), price=NUM, dwell_ms=NUM, scroll_depth=NUM, page_path=STR_ANY,
        page_type=STR_ANY, page_url=STR_ANY, event_time=NUM, device_type=STR(16), locale=STR_ANY,
        campaign=MAP(5, STR(8), STR_ANY), traits=TRAITS,
        # the other fields of a normalized event (tastemaker/ingest/normalize.py)
        event_id=STR_ANY, source=STR_ANY, topic=STR_ANY, key=STR_ANY, anonymous_id=STR_ANY, user_id=STR_ANY,
        received_at=NUM, sent_at=NUM, timestamp=NUM, page_referrer=STR_ANY, page_title=STR_ANY, quantity=NUM,
        revenue=NUM, page_view_id=STR_ANY, is_bot=NUM, bot_reason=STR(16), ip=STR(64),
        geo=MAP(3, STR(8), STR_ANY), previous_id=STR_ANY, group_id=STR_ANY, person=STR_ANY,
        clamped=LIST(8, STR(16)), kind=STR(16),
    ),
    "profile": RECORD(
        traits=TRAITS, counts=MAP(COUNTED_NAMES, STR_ANY, NUM), segments=LIST(SEGMENTS, STR(SEGMENT_CHARS)),
        intent=RECORD(browse=NUM, research=NUM, purchase=NUM, abandonment=NUM),
        affinities=MAP(4, STR(16), MAP(AFFINITY_KEYS, STR(AFFINITY_KEY_CHARS), NUM)),
        cart=RECORD(items=LIST(CART_ITEMS, RECORD(id=STR_ANY, qty=NUM, price=NUM, category=STR_ANY)),
                    categories=LIST(CART_ITEMS, STR_ANY), value=NUM),
        purchases=NUM, consent=MAP(CONSENT_FIELDS, STR(32), NUM),
    ),
    "session": RECORD(
        started_at=NUM, duration_s=NUM, page_count=NUM,
        pages=LIST(SESSION_PAGES, RECORD(page_type=STR_ANY, path=STR(PATH_CHARS), dwell_ms=NUM, scroll_depth=NUM)),
        current_page_dwell_s=NUM, max_scroll=NUM, events=NUM, bounce=NUM, quick_exit=NUM, converted=NUM,
        exit_page_type=STR_ANY,
    ),
    "now": NUM,
}

HELPERS = frozenset({"count", "count_item", "count_category", "page_dwell_s", "has_segment"})
_CONVERSIONS = frozenset({"int", "uint", "double", "string", "bytes", "timestamp", "duration", "dyn", "type", "bool"})


class CostError(ValueError):
    """A condition refused for its cost (or for what makes its cost unknowable)."""


@dataclass(frozen=True)
class Estimate:
    cost: int
    evaluation: int  # of which evaluating the tree
    conversion: int  # and converting the fields it reads into CEL
    costliest: str  # the (two) parts that cost the most, for the refusal's reason


def estimate(source: str, selection: Mapping[str, Selection | None]) -> Estimate:
    """``selection``: the fields the condition reads (cel_source.field_selection), converted per event.
    Raises CostError when the source nests too deep, uses a computed regex or what the tree does not model."""
    try:
        tree = cel_ast.parse(source, MAX_NESTING)
    except cel_ast.TooDeep:
        raise CostError(f"nests more than {MAX_NESTING} levels deep (brackets, calls, macros, operators, "
                        "field selections)") from None
    except (cel_ast.Unsupported, ValueError) as error:
        raise CostError(f"its cost cannot be estimated: {error}") from None
    estimator = _Estimator()
    evaluation = estimator.cost(tree, {})[0]
    conversion, read = 0, []
    for name, fields in selection.items():
        units = _conversion(SHAPES.get(name, NUM), fields)
        conversion += units
        read.append((units, f"reading {name}" + ("" if fields is None else " fields")))
    parts = sorted(estimator.parts + read, reverse=True)[:2]
    costliest = "; ".join(f"{what}: {units} units" for units, what in parts) or "its operators"
    return Estimate(evaluation + conversion, evaluation, conversion, costliest)


def _conversion(shape: Shape, fields: Selection | None) -> int:
    if fields is None or shape.kind != "map":
        return shape.convert()
    return CONVERT_CONTAINER + sum(CONVERT_STRING + _conversion(shape.value(name), sub) for name, sub in fields.items())


def _scan(chars: int) -> int:
    return chars // CHARS_PER_UNIT


def _hash(chars: int) -> int:
    return chars // HASH_CHARS_PER_UNIT


def _compare(a: Shape, b: Shape) -> int:
    """Comparing two values (==, !=, <, an element of a list): as far as the smaller goes."""
    return min(a.leaves(), b.leaves()) + min(a.chars(), b.chars()) // COMPARE_CHARS_PER_UNIT


def _join(a: Shape, b: Shape) -> Shape:
    """A shape holding either."""
    if a == b:
        return a
    if a.kind == b.kind == "num":
        return NUM
    if a.kind == b.kind == "str":
        return STR(max(a.size, b.size))
    if a.kind == b.kind == "list":
        return LIST(max(a.size, b.size), _join(a.item or NUM, b.item or NUM))
    if a.kind == b.kind == "map" and a.fields is None and b.fields is None:
        return MAP(max(a.size, b.size), _join(a.key or STR_ANY, b.key or STR_ANY), _join(a.item or NUM, b.item or NUM))
    return ANY(max(a.json_bytes(), b.json_bytes()))


def _join_all(shapes) -> Shape:
    joined = None
    for shape in shapes:
        joined = shape if joined is None else _join(joined, shape)
    return joined or NUM


def _plus(a: Shape, b: Shape) -> Shape:
    """The shape of ``a + b``."""
    if a.kind == b.kind == "str":
        return STR(a.size + b.size)
    if a.kind == b.kind == "list":
        return LIST(a.size + b.size, _join(a.item or NUM, b.item or NUM))
    if "any" in (a.kind, b.kind) and "num" not in (a.kind, b.kind):
        return ANY(a.json_bytes() + b.json_bytes())
    return NUM


def text(node: Node) -> str:
    """A short source-like name of an expression, for reasons."""
    if isinstance(node, Ident):
        return node.name
    if isinstance(node, Select):
        return f"{text(node.operand)}.{node.field}"
    if isinstance(node, Index):
        return f"{text(node.operand)}[...]"
    if isinstance(node, Comprehension):
        return f"{text(node.range)}.{node.macro}(...)"
    if isinstance(node, ListLiteral):
        return f"a list of {len(node.items)}"
    if isinstance(node, Call):
        return f"{node.function}(...)"
    return "a computed value"


class _Estimator:
    def __init__(self) -> None:
        self.parts: list[tuple[int, str]] = []  # (units, what): comprehensions and regexes, for the reason

    def cost(self, node: Node, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        """(units, shape of the result) of evaluating ``node`` once, with comprehension variables ``scope``."""
        if isinstance(node, Literal):
            if node.kind in ("string", "bytes"):
                return STEP, STR(len(node.text))
            return STEP, NUM
        if isinstance(node, Ident):
            return STEP, scope.get(node.name) or SHAPES.get(node.name, NUM)
        if isinstance(node, Select):
            units, shape = self.cost(node.operand, scope)
            return units + STEP, shape.value(node.field)
        if isinstance(node, Has):
            units, _ = self.cost(node.operand, scope)
            return units + STEP, NUM
        if isinstance(node, Index):
            units, shape = self.cost(node.operand, scope)
            key_units, key = self.cost(node.index, scope)
            return units + key_units + STEP + _hash(key.chars()), shape.value()
        if isinstance(node, Unary):
            units, shape = self.cost(node.operand, scope)
            return units + STEP * len(node.ops), NUM
        if isinstance(node, Ternary):
            condition, _ = self.cost(node.condition, scope)
            then, a = self.cost(node.then, scope)
            otherwise, b = self.cost(node.otherwise, scope)
            return condition + max(then, otherwise) + STEP, _join(a, b)
        if isinstance(node, ListLiteral):
            units, shapes = STEP, []
            for item in node.items:
                item_units, shape = self.cost(item, scope)
                units += item_units + STEP
                shapes.append(shape)
            return units, LIST(len(node.items), _join_all(shapes))
        if isinstance(node, MapLiteral):
            units, keys, values = STEP, [], []
            for key_node, value_node in node.entries:
                key_units, key = self.cost(key_node, scope)
                value_units, value = self.cost(value_node, scope)
                units += key_units + value_units + STEP + _hash(key.chars())
                keys.append(key)
                values.append(value)
            return units, MAP(len(node.entries), _join_all(keys), _join_all(values))
        if isinstance(node, Chain):
            return self.chain(node, scope)
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, Comprehension):
            return self.comprehension(node, scope)
        raise CostError(f"its cost cannot be estimated: {type(node).__name__}")

    def chain(self, node: Chain, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        units, left = self.cost(node.first, scope)
        copies = 0
        for op, operand in node.rest:
            right_units, right = self.cost(operand, scope)
            units += right_units + STEP
            if op in ("&&", "||"):
                left = NUM
            elif op == "+":
                if left.kind != "num" or right.kind != "num":  # a new string or list: both copied
                    copied = _scan(left.chars() + right.chars()) + COPY_PER_LEAF * (left.leaves() + right.leaves())
                    units, copies = units + copied, copies + copied
                left = _plus(left, right)
                if copies:
                    self.parts.append((copies, f"'+' building {'strings' if left.kind == 'str' else 'lists'} of up to {left.size} "
                                               f"{'characters' if left.kind == 'str' else 'entries'}"))
            elif op in ("==", "!=", "<", "<=", ">", ">="):
                units += _compare(left, right)
                left = NUM
            elif op == "in":
                if right.kind in ("map", "any"):
                    units += _hash(left.chars())  # a hashed look-up
                if right.kind in ("list", "any"):  # any: at worst a list of size/2
                    units += right.entries() * (1 + _compare(left, right.element()))
                left = NUM
            else:  # - * / %
                left = NUM
        return units, left

    def call(self, node: Call, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        units, shapes = STEP, []
        for part in ((node.target,) if node.target is not None else ()) + node.args:
            part_units, shape = self.cost(part, scope)
            units += part_units
            shapes.append(shape)
        name = node.function
        first = shapes[0] if shapes else NUM
        if name == "size":  # a string's size counts its characters; a list's or map's is known
            return units + (_scan(first.size) if first.kind in ("str", "any") else 0), NUM
        if name in ("contains", "endsWith", "startsWith"):
            needle = shapes[1] if len(shapes) > 1 else NUM
            scanned = first.chars() + needle.chars() if name == "contains" else needle.chars()
            return units + _scan(scanned), NUM
        if name == "matches":
            return units + self.matches(node, first), NUM
        if name in HELPERS:
            # Arguments are converted into Python; windowed helpers parse their duration.
            return units + CALLBACK + sum(_scan(s.chars()) + s.leaves() for s in shapes), NUM
        if name in _CONVERSIONS:
            shape = first if name in ("dyn", "string", "bytes") else NUM
            if name == "string" and first.kind != "str":
                shape = STR(64)
            return units + STEP + _scan(first.chars()) + COPY_PER_LEAF * first.leaves(), shape
        return units + STEP, NUM  # getHours() and the other timestamp accessors

    def matches(self, node: Call, text_shape: Shape) -> int:
        pattern = node.args[-1] if node.args else None
        if not isinstance(pattern, Literal) or pattern.kind != "string":
            raise CostError("matches() needs its pattern as a string literal, so that its cost is known when the "
                            "rule is applied (a pattern from the data could cost anything on every event)")
        weight = regex_weight(pattern.text)
        units = REGEX_BASE + REGEX_PER_WEIGHT * weight + _scan(text_shape.chars()) * (1 + weight // 64)
        self.parts.append((units, f"the regex {pattern.text[:40]!r} (compiled on every call, weight {weight})"))
        return units

    def comprehension(self, node: Comprehension, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        range_units, range_shape = self.cost(node.range, scope)
        n = range_shape.entries()
        inner = dict(scope)
        if len(node.variables) == 2:  # all(i, v, e): index or key, and value
            inner[node.variables[0]] = range_shape.element() if range_shape.kind == "map" else NUM
            inner[node.variables[1]] = range_shape.value()
        else:
            inner[node.variables[0]] = range_shape.element()
        mark = len(self.parts)
        body_units, shapes = 0, []
        for expression in node.body:
            units, shape = self.cost(expression, inner)
            body_units += units
            shapes.append(shape)
        units = range_units + n * (body_units + ITERATION)
        result: Shape = NUM
        if node.macro in ("map", "filter"):
            element = shapes[-1] if node.macro == "map" else range_shape.element()
            # The result list is rebuilt on every element (acc + [x]): quadratic in n.
            units += COPY_PER_LEAF * element.leaves() * n * (n + 1) // 2
            result = LIST(n, element)
        nested = [part for part in self.parts[mark:] if part[1].startswith("comprehension")]
        self.parts[mark:] = [part for part in self.parts[mark:] if part not in nested]  # told as part of this one
        where = f"{text(node.range)} (<= {n})"
        if nested:
            what = f"comprehension over {where} x " + max(nested)[1].removeprefix("comprehension over ")
        else:
            what = f"comprehension over {where}"
        self.parts.append((units, what))
        return units, result


# --- regex size ---------------------------------------------------------------------------------------
# The compiled size of a Rust regex (the ``regex`` crate, Unicode on by default) per element, measured as
# compile time per call and expressed in units of one literal character (~0.3 us; REGEX_PER_WEIGHT rounds it up): a class of Unicode
# letters or word characters compiles to thousands of byte ranges.
RX_LITERAL, RX_NON_ASCII, RX_DOT, RX_NEGATED = 1, 3, 16, 16
RX_DIGIT, RX_SPACE, RX_UNICODE_CLASS, RX_BOUNDARY = 150, 20, 1_300, 100
RX_CASELESS = 3  # (?i): each literal or class also matches its other cases
RX_MAX_REPEAT = 100_000  # a larger count is treated as this (the estimate is already far over budget)

_CLASS_ESCAPES = {"d": RX_DIGIT, "D": RX_DIGIT, "s": RX_SPACE, "S": RX_SPACE, "w": RX_UNICODE_CLASS,
                  "W": RX_UNICODE_CLASS, "p": RX_UNICODE_CLASS, "P": RX_UNICODE_CLASS}
_ASSERTION_ESCAPES = {"b": RX_BOUNDARY, "B": RX_BOUNDARY, "A": 1, "z": 1, "<": RX_BOUNDARY, ">": RX_BOUNDARY}


def regex_weight(pattern: str) -> int:
    """An upper estimate of the compiled size of ``pattern`` in the Rust regex syntax: the sum over its
    elements, each counted once per repetition (``x{100}`` is 100 x's; nested counts multiply)."""
    weight, i = 0, 0
    while i < len(pattern):  # a stray ")" ends a sequence: the rest still counts
        part, i = _sequence(pattern, i, caseless=False, verbose=False, depth=0)
        weight, i = weight + part, i + 1
    return max(weight, 1)


def _sequence(p: str, i: int, caseless: bool, verbose: bool, depth: int) -> tuple[int, int]:
    """(weight, index) of an alternation up to the closing ')' or the end; branches add up."""
    if depth > 64:
        return RX_MAX_REPEAT, len(p)
    total, last = 0, 0  # last: the weight of the previous element, which a repetition multiplies
    while i < len(p):
        c = p[i]
        if c == ")":
            break
        if c == "|":
            total, last, i = total, 0, i + 1
            continue
        if verbose and c.isspace():
            i += 1
            continue
        if verbose and c == "#":
            while i < len(p) and p[i] != "\n":
                i += 1
            continue
        if c in "*+?{":
            count, i = _repetition(p, i)
            if count is None:  # a literal "{"
                last = RX_LITERAL
                total += last
                continue
            total += last * (count - 1) if count > 0 else -last + 1
            last = last * max(count, 1)
            continue
        if c == "(":
            i += 1
            flags = ""
            if p.startswith("?P<", i) or p.startswith("?<", i):  # a named group
                end = p.find(">", i)
                i = len(p) if end < 0 else end + 1
            elif p.startswith("?", i):
                end = i + 1
                while end < len(p) and p[end] not in ":)":
                    end += 1
                flags = p[i + 1:end]
                if end < len(p) and p[end] == ")":  # (?i) sets flags for the rest of the group
                    caseless, verbose = _flags(flags, caseless, verbose)
                    i = end + 1
                    continue
                i = end + 1
            inner_caseless, inner_verbose = _flags(flags, caseless, verbose)
            last, i = _sequence(p, i, inner_caseless, inner_verbose, depth + 1)
            last += 1
            i += 1  # the ')'
            total += last
            continue
        if c == "[":
            last, i = _class(p, i + 1)
        elif c == "\\":
            last, i = _escape(p, i + 1)
        elif c == ".":
            last, i = RX_DOT, i + 1
        elif c in "^$":
            last, i = 1, i + 1
        else:
            last, i = (RX_LITERAL if c.isascii() else RX_NON_ASCII), i + 1
        if caseless:
            last *= RX_CASELESS
        total += last
    return max(total, 1), i


def _flags(flags: str, caseless: bool, verbose: bool) -> tuple[bool, bool]:
    on = True
    for flag in flags:
        if flag == "-":
            on = False
        elif flag == "i":
            caseless = on
        elif flag == "x":
            verbose = on
    return caseless, verbose


def _repetition(p: str, i: int) -> tuple[int | None, int]:
    """(count, index after): the most times the element repeats as compiled (``*`` and ``+``: a loop, once)."""
    c = p[i]
    if c in "*+?":
        i += 1
        if i < len(p) and p[i] == "?":  # lazy
            i += 1
        return 1, i
    end = p.find("}", i)
    body = p[i + 1:end] if end > 0 else ""
    numbers = body.replace(" ", "").split(",")
    if end < 0 or not 1 <= len(numbers) <= 2 or not numbers[0].isdigit() or not all(n.isdigit() or n == ""
                                                                                      for n in numbers):
        return None, i + 1
    low = int(numbers[0])
    high = low if len(numbers) == 1 else (int(numbers[1]) if numbers[1] else low + 1)
    i = end + 1
    if i < len(p) and p[i] == "?":
        i += 1
    return min(max(low, high), RX_MAX_REPEAT), i


def _escape(p: str, i: int) -> tuple[int, int]:
    if i >= len(p):
        return RX_LITERAL, i
    c = p[i]
    if c in _CLASS_ESCAPES:
        i += 1
        if c in "pP" and i < len(p) and p[i] == "{":
            end = p.find("}", i)
            i = len(p) if end < 0 else end + 1
        elif c in "pP":
            i += 1
        return _CLASS_ESCAPES[c], i
    if c in _ASSERTION_ESCAPES:
        return _ASSERTION_ESCAPES[c], i + 1
    if c in "xuU":
        i += 1
        if i < len(p) and p[i] == "{":
            end = p.find("}", i)
            return RX_NON_ASCII, len(p) if end < 0 else end + 1
        return RX_NON_ASCII, min(len(p), i + {"x": 2, "u": 4, "U": 8}[c])
    if c.isascii() and not c.isalnum():
        return RX_LITERAL, i + 1  # an escaped punctuation character
    if c in "nrtfvae0":
        return RX_LITERAL, i + 1
    return RX_UNICODE_CLASS, i + 1  # an escape this estimate does not know: counted as the largest class


def _class(p: str, i: int) -> tuple[int, int]:
    """(weight, index after the closing ']') of a bracketed class, nested classes included."""
    weight, negated = 0, False
    if i < len(p) and p[i] == "^":
        negated, i = True, i + 1
    if i < len(p) and p[i] == "]":  # a leading ']' is a literal
        weight, i = weight + RX_LITERAL, i + 1
    while i < len(p) and p[i] != "]":
        c = p[i]
        if c == "[":
            if p.startswith("[:", i):  # [[:alpha:]]: an ASCII class
                end = p.find(":]", i + 2)
                weight += 4
                i = len(p) if end < 0 else end + 2
                continue
            inner, i = _class(p, i + 1)
            weight += inner
            continue
        if c == "\\":
            inner, i = _escape(p, i + 1)
            weight += inner
            continue
        weight += RX_LITERAL if c.isascii() else RX_NON_ASCII
        i += 1
    return max(weight, 1) + (RX_NEGATED if negated else 0), i + 1
