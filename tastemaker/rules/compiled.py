"""Conditions compiled into Python closures that evaluate directly on the Python values of an event's scope
(context.Scope), so that evaluating them converts nothing into CEL; inlined.py makes one generated function
of their common shapes, which is the evaluator ``conditions.py`` keeps next to each ``cel.Program``.

Conditions are compiled from their syntax tree (cel_ast.py) into closures over cel_values.py's operations,
which read the scope's Python values directly:

* ``a ? b : c`` (a non-boolean condition is an error), ``has(x.f)``, ``contains``, ``startsWith``,
  ``endsWith``, ``dyn``, list and map literals, and the operators and functions of cel_values.py;
* the macros ``all``, ``exists``, ``exists_one``, ``map`` (2 or 3 arguments) and ``filter`` over a list or
  a map's keys: an error in the body stops the macro at once (cel-rust does not absorb errors inside a
  macro); ``all``/``exists`` stop at the first element that decides. Over a map, cel-rust visits the keys
  in hash order, which changes from one map to the next; these closures visit them in the map's order (one
  of the orders cel-rust can take), so a result that depends on the order is deterministic here;
* the helpers (context.py) through the scope, with the same memo and the same record of calls (the why); a
  helper that raises leaves the condition to the library (``helper_failed``).

What the closures do not model they leave to the cel library, so that no accepted condition changes
meaning: a condition using something else (``matches``, ``uint``, bytes, timestamps, durations, ``type``,
two-variable macros, a map literal with non-string keys, ``.name`` from the root scope) is not compiled
(``compile_tree`` gives None); at run time a value outside the model (an int beyond int64, a mapping that
is not a dict, a helper argument that is a map, ...) raises ``Unsure``, and an error whose exact exception
this module does not know is ``Fail(None)``: in both cases, if it decides the result, context.Scope runs
the condition in the cel library instead. A non-boolean result is also left to the library.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from tastemaker.rules.cel_ast import (Call, Chain, Comprehension, Has, Ident, Index, ListLiteral, Literal, MapLiteral,
                                      Node, Select, Ternary, Unary)
from tastemaker.rules.cel_values import (I64_MAX, I64_MIN, KNOWN, MISSING, Fail, Unsure, arithmetic,
                                         contained, eq, ge, gt, index, int64, iterated, le, logic_error, lt, ne,
                                         no_key, no_overload, not_a_map, plain, select, size, str_in, to_double,
                                         to_int, to_string)
from tastemaker.rules.context import DEFAULTS, HELPER_ARITY, UNLOADED, VARIABLES

Evaluator = Callable[[Any, dict], Any]  # (scope, comprehension variables) -> value
Decider = Callable[[Any], "bool | None"]  # (scope) -> the condition's result, or None: ask the cel library


class NotCompiled(ValueError):
    """The condition uses something this module does not model."""


def helper_failed(call: tuple, error: Exception, s: Any) -> Unsure:
    """A helper that raised: the condition is left to the cel library, to which the scope replays the failure
    (Scope.run_cel: the helper is not called again for it), so that the library reports and logs it as it
    does, and decides what it makes of the error."""
    if s.failed is None:
        s.failed = []
    s.failed.append((call, error))
    return Unsure()


# --- the compiler ---------------------------------------------------------------------------------------

def compile_tree(tree: Node, tokens: list | None = None) -> Decider | None:
    """The function deciding the condition ``tree`` on a scope (context.Scope): True or False, raising the
    library's exception for an error it knows, None when the cel library is to decide (a non-boolean result,
    an error whose message is not modelled, ``Unsure``). None instead of a function when the condition uses
    something not modelled here. ``tokens`` (the source's, cel_source.tokenize): refuses ``.name`` (a name
    from the root scope, which the library reads as the name ".name")."""
    if tokens is not None and _root_dot(tokens):
        return None
    try:
        fn, _ = Compiler().node(tree, frozenset())
    except NotCompiled:
        return None

    def decide(s: Any) -> bool | None:
        s.used, s.failed = [], None
        try:
            value = fn(s, {})
        except Fail as failure:
            if failure.error is not None:
                raise failure.error from None
            return None
        except Exception as error:  # noqa: BLE001 - Unsure, or anything unforeseen: the library decides
            if error is s.failure:  # building the profile or session failed: the caller's error
                raise
            return None
        return value if value is True or value is False else None
    decide.evaluate = fn  # type: ignore[attr-defined] - the closure itself, for tests
    return decide


def _root_dot(tokens: list) -> bool:
    previous = None
    for token in tokens:
        if token.kind == "punct" and token.text == "." and (
                previous is None or (previous.kind == "punct" and previous.text not in (")", "]", "}"))):
            return True
        previous = token
    return False


_CONST = object()  # marks "not a constant" in (fn, constant) pairs
RELATIONS = {"==": eq, "!=": ne, "<": lt, "<=": le, ">": gt, ">=": ge}
_PYTHON_RELATIONS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
                     ">=": operator.ge}
_BUILTIN_CALLS = frozenset({"size", "contains", "startsWith", "endsWith", "int", "double", "string", "dyn"})
def _constant(value: Any) -> tuple[Evaluator, Any]:
    return (lambda s, l: value), value


class Compiler:
    """Each method gives ``(closure, constant)``: the constant value when the node has one, else _CONST."""

    def node(self, node: Node, bound: frozenset[str]) -> tuple[Evaluator, Any]:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, Ident):
            return self.ident(node.name, bound), _CONST
        if isinstance(node, Select):
            return self.select(node, bound), _CONST
        if isinstance(node, Has):
            return self.has(node, bound), _CONST
        if isinstance(node, Index):
            operand, _ = self.node(node.operand, bound)
            key, _ = self.node(node.index, bound)

            def indexed(s, l):
                container = operand(s, l)
                kind = type(container)
                if kind is not list and kind is not dict:  # not indexable: the key is not evaluated
                    raise no_overload() if kind in KNOWN else Unsure()
                return index(container, key(s, l))
            return indexed, _CONST
        if isinstance(node, Unary):
            return self.unary(node, bound)
        if isinstance(node, Chain):
            return self.chain(node, bound), _CONST
        if isinstance(node, Ternary):
            return self.ternary(node, bound), _CONST
        if isinstance(node, ListLiteral):
            items = [self.node(item, bound) for item in node.items]
            if all(const is not _CONST for _, const in items):
                return _constant([const for _, const in items])
            fns = [fn for fn, _ in items]
            return (lambda s, l: [fn(s, l) for fn in fns]), _CONST
        if isinstance(node, MapLiteral):
            return self.map_literal(node, bound)
        if isinstance(node, Call):
            return self.call(node, bound), _CONST
        if isinstance(node, Comprehension):
            return self.comprehension(node, bound), _CONST
        raise NotCompiled(type(node).__name__)

    # -- leaves --
    def literal(self, node: Literal) -> tuple[Evaluator, Any]:
        if node.kind == "int":
            value = int(node.text, 16) if node.text.lower().startswith("0x") else int(node.text)
            if value > I64_MAX:
                raise NotCompiled("int literal out of range")
            return _constant(value)
        if node.kind == "double":
            return _constant(float(node.text))
        if node.kind == "string":
            return _constant(node.text)
        if node.kind == "bool":
            return _constant(node.text == "true")
        if node.kind == "null":
            return _constant(None)
        raise NotCompiled(f"{node.kind} literal")  # uint, bytes

    def ident(self, name: str, bound: frozenset[str]) -> Evaluator:
        if name in bound:
            return lambda s, l: l[name]
        if name not in VARIABLES:
            raise NotCompiled(f"unknown name {name}")
        if name == "now":
            return lambda s, l: s.now
        return lambda s, l: s.whole(name)

    def root_path(self, node: Node, bound: frozenset[str]) -> tuple[str, list[str]] | None:
        """``event.a.b`` as ("event", ["a", "b"]) when it starts at a (not shadowed) variable."""
        fields = []
        while isinstance(node, Select):
            fields.append(node.field)
            node = node.operand
        if isinstance(node, Ident) and node.name in VARIABLES and node.name not in bound and node.name != "now":
            return node.name, fields[::-1]
        return None

    def select(self, node: Select, bound: frozenset[str]) -> Evaluator:
        path = self.root_path(node, bound)
        if path is not None:
            return _path_reader(*path)
        operand, _ = self.node(node.operand, bound)
        field = node.field
        return lambda s, l: select(operand(s, l), field)

    def has(self, node: Has, bound: frozenset[str]) -> Evaluator:
        target: Select = node.operand
        field = target.field
        path = self.root_path(target.operand, bound)
        if path is not None and not path[1]:
            root = _root_reader(path[0])
            default = DEFAULTS[path[0]]
            present_by_default = field in default

            def has_root(s, l):
                return present_by_default or field in root(s)
            return has_root
        operand, _ = self.node(target.operand, bound)

        def has(s, l):
            value = operand(s, l)
            if type(value) is dict:
                return field in value
            raise not_a_map(value)
        return has

    # -- operators --
    def unary(self, node: Unary, bound: frozenset[str]) -> tuple[Evaluator, Any]:
        ops = node.ops
        operand = node.operand
        if ops.endswith("-") and isinstance(operand, Literal) and operand.kind == "int":
            # CEL folds a negated int literal into one literal: -9223372036854775808 is an int
            value = -(int(operand.text, 16) if operand.text.lower().startswith("0x") else int(operand.text))
            if value < I64_MIN:
                raise NotCompiled("int literal out of range")
            fn, const = _constant(value)
            ops = ops[:-1]
            if not ops:
                return fn, const
        else:
            fn, const = self.node(operand, bound)
        for op in reversed(ops):
            fn = _not(fn) if op == "!" else _negate(fn)
        return fn, _CONST

    def ternary(self, node: Ternary, bound: frozenset[str]) -> Evaluator:
        condition, _ = self.node(node.condition, bound)
        then, _ = self.node(node.then, bound)
        otherwise, _ = self.node(node.otherwise, bound)

        def ternary(s, l):
            chosen = condition(s, l)
            if chosen is True:
                return then(s, l)
            if chosen is False:
                return otherwise(s, l)
            raise no_overload()
        return ternary

    def chain(self, node: Chain, bound: frozenset[str]) -> Evaluator:
        op = node.rest[0][0]
        if op in ("&&", "||"):  # a chain is all of one operator (one precedence level)
            terms = [self.node(node.first, bound)[0]] + [self.node(term, bound)[0] for _, term in node.rest]
            return _logic(terms, op == "&&")
        fn, const = self.node(node.first, bound)
        for op, operand in node.rest:
            right, right_const = self.node(operand, bound)
            fn, const = self.binary(op, fn, const, right, right_const), _CONST
        return fn

    def binary(self, op: str, left: Evaluator, left_const: Any, right: Evaluator, right_const: Any) -> Evaluator:
        if op == "in":
            if right_const is not _CONST:
                return _in_constant(left, right_const)
            if left_const is not _CONST and type(left_const) is str:
                item = left_const
                return lambda s, l: str_in(item, right(s, l))
            return lambda s, l: contained(left(s, l), right(s, l))
        if op in RELATIONS:
            if right_const is not _CONST:
                return _relation_constant(op, left, right_const)
            relation = RELATIONS[op]
            return lambda s, l: relation(left(s, l), right(s, l))
        return lambda s, l: arithmetic(op, left(s, l), right(s, l))

    def map_literal(self, node: MapLiteral, bound: frozenset[str]) -> tuple[Evaluator, Any]:
        entries, keys = [], set()
        for key_node, value_node in node.entries:
            if not (isinstance(key_node, Literal) and key_node.kind == "string") or key_node.text in keys:
                raise NotCompiled("map literal keys other than distinct strings")
            keys.add(key_node.text)
            entries.append((key_node.text, self.node(value_node, bound)))
        if all(const is not _CONST for _, (_, const) in entries):
            return _constant({key: const for key, (_, const) in entries})
        fns = [(key, fn) for key, (fn, _) in entries]
        return (lambda s, l: {key: fn(s, l) for key, fn in fns}), _CONST

    # -- calls --
    def call(self, node: Call, bound: frozenset[str]) -> Evaluator:
        name = node.function
        args = [self.node(arg, bound) for arg in node.args]
        target = self.node(node.target, bound) if node.target is not None else None
        if name in HELPER_ARITY:
            return self.helper(name, args, target)
        if name not in _BUILTIN_CALLS:
            raise NotCompiled(f"function {name}")
        # The receiver form x.f(y) and the global form f(x, y) of the library's built-ins differ: only these.
        if name in ("contains", "startsWith", "endsWith"):
            if target is None or len(args) != 1:
                raise NotCompiled(f"{name} form")
            return _string_test(name, target[0], args[0][0])
        operands = ([target] if target is not None else []) + args
        if len(operands) != 1:
            raise NotCompiled(f"{name} with {len(operands)} operands")
        operand = operands[0][0]
        if name == "size":
            return lambda s, l: size(operand(s, l))
        if target is not None:
            raise NotCompiled(f"receiver form of {name}")
        conversions = {"int": to_int, "double": to_double, "string": to_string, "dyn": lambda value: value}
        convert = conversions[name]
        return lambda s, l: convert(operand(s, l))

    def helper(self, name: str, args: list, target: tuple | None) -> Evaluator:
        # The binding evaluates a call's arguments first, then its receiver, which it passes first.
        ordered_args = ([target] if target is not None else []) + args
        if len(ordered_args) != HELPER_ARITY[name]:
            raise NotCompiled(f"{name} with {len(ordered_args)} arguments")
        if all(const is not _CONST and plain(const) for _, const in ordered_args):
            return _constant_helper((name, *(const for _, const in ordered_args)))
        fns = [fn for fn, _ in args]
        target_fn = target[0] if target is not None else None

        def call_computed(s, l):
            values = [fn(s, l) for fn in fns]
            if target_fn is not None:
                values.insert(0, target_fn(s, l))
            for value in values:
                if not plain(value):
                    raise Unsure  # the library would hand the helper a reordered copy of a map
            return _helper(s, (name, *values))
        return call_computed

    # -- macros --
    def comprehension(self, node: Comprehension, bound: frozenset[str]) -> Evaluator:
        if len(node.variables) != 1:
            raise NotCompiled("two-variable macro")
        (var,) = node.variables
        inner = bound | {var}
        body = [self.node(part, inner)[0] for part in node.body]
        range_fn, _ = self.node(node.range, bound)
        macro = node.macro
        if len(body) == 2 and macro != "map":
            raise NotCompiled(f"{macro} with 3 arguments")
        loop = _MACROS[macro] if len(body) == 1 else _map_filtered

        def comprehension(s, l):
            items = iterated(range_fn(s, l))
            saved = l.get(var, MISSING)
            try:
                return loop(items, var, body, s, l)
            finally:
                if saved is MISSING:
                    l.pop(var, None)
                else:
                    l[var] = saved
        return comprehension


# --- closures --------------------------------------------------------------------------------------------

def _root_reader(name: str) -> Callable[[Any], Any]:
    """The variable as given (before its defaults): the scope loads a profile or a session when first read."""
    if name == "event":
        return lambda s: s.event
    if name == "profile":
        def profile(s):
            given = s.profile
            return s.load("profile") if given is UNLOADED else given
        return profile

    def session(s):
        given = s.session
        return s.load("session") if given is UNLOADED else given
    return session


def _path_reader(name: str, fields: list[str]) -> Evaluator:
    """``name.f1.f2...``: the first field of the variable or its default, then fields of maps."""
    first, rest = fields[0], tuple(fields[1:])
    if name == "event" and first == "traits":
        def traits(s, l):
            value = s.event_traits()
            for field in rest:
                value = select(value, field)
            return value
        return traits
    default = DEFAULTS[name].get(first, MISSING)
    if rest:
        second, rest = rest[0], rest[1:]
    else:
        second = None
    # One closure per variable and depth (the common reads are one or two fields deep): no calls but dict's.
    if name == "event":
        if second is None:
            def event1(s, l):
                value = s.event.get(first, default)
                if value is MISSING:
                    raise no_key(first)
                return value
            return event1

        def event2(s, l):
            value = s.event.get(first, default)
            if value is MISSING:
                raise no_key(first)
            if type(value) is dict:
                value = value.get(second, MISSING)
                if value is MISSING:
                    raise no_key(second)
            else:
                raise not_a_map(value)
            for field in rest:
                value = select(value, field)
            return value
        return event2
    if second is None:
        def variable1(s, l):
            given = s.profile if name == "profile" else s.session
            if given is UNLOADED:
                given = s.load(name)
            value = given.get(first, default)
            if value is MISSING:
                raise no_key(first)
            return value
        return variable1

    def variable2(s, l):
        given = s.profile if name == "profile" else s.session
        if given is UNLOADED:
            given = s.load(name)
        value = given.get(first, default)
        if value is MISSING:
            raise no_key(first)
        if type(value) is dict:
            value = value.get(second, MISSING)
            if value is MISSING:
                raise no_key(second)
        else:
            raise not_a_map(value)
        for field in rest:
            value = select(value, field)
        return value
    return variable2


def _helper(s: Any, call: tuple) -> Any:
    try:
        value = s.helper(call)
    except Exception as error:
        if error is s.failure:  # building the profile failed: not the helper's error (see context.Scope.load)
            raise
        raise helper_failed(call, error, s) from None
    kind = value.__class__
    if kind is bool or kind is float or (kind is int and I64_MIN <= value <= I64_MAX):
        return value
    raise Unsure  # the library converts it into CEL in its own way


def fresh_helper(s: Any, call: tuple) -> Any:
    """``call`` (hashable: its own memo key) when the memo does not hold it."""
    try:
        value = s.fresh(call, call)
    except Exception as error:
        if error is s.failure:
            raise
        raise helper_failed(call, error, s) from None
    kind = value.__class__
    if kind is bool or kind is float or (kind is int and I64_MIN <= value <= I64_MAX):
        return value
    raise Unsure


def _constant_helper(call: tuple) -> Evaluator:
    """A helper called with constant arguments (``count("Cart Viewed", "1h")``): the memo's key is known."""
    try:
        hash(call)
    except TypeError:
        return lambda s, l: _helper(s, call)

    def constant_call(s, l):
        value = s.memo.get(call, MISSING)
        if value is MISSING:
            return fresh_helper(s, call)
        s.used.append(call)
        kind = type(value)
        if kind is int and (value > I64_MAX or value < I64_MIN):
            raise Unsure
        return value
    return constant_call


def _not(fn: Evaluator) -> Evaluator:
    def negation(s, l):
        value = fn(s, l)
        if value is True:
            return False
        if value is False:
            return True
        raise no_overload()
    return negation


def _negate(fn: Evaluator) -> Evaluator:
    def minus(s, l):
        value = fn(s, l)
        kind = type(value)
        if kind is int:
            value = int64(value)
            return value if value == I64_MIN else -value  # the library wraps -int64.min around
        if kind is float:
            return -value
        if kind is bool:
            return not value  # the library negates a bool
        if kind in KNOWN:
            raise no_overload()
        raise Unsure
    return minus


def _relation_constant(op: str, left: Evaluator, constant: Any) -> Evaluator:
    """``x op constant``: the common shapes without the general dispatch."""
    kind = type(constant)
    if kind is str and op in ("==", "!="):
        equal = op == "=="

        def string_equality(s, l):
            value = left(s, l)
            kind = type(value)
            if kind is str:
                return (value == constant) is equal
            if kind in KNOWN:
                return not equal
            raise Unsure
        return string_equality
    relation = RELATIONS[op]
    if kind is float or kind is int:
        python_op = _PYTHON_RELATIONS[op]
        as_double = float(constant)
        int_constant = kind is int

        def number_relation(s, l):
            value = left(s, l)
            kind = type(value)
            if kind is float:
                if value != value and op not in ("==", "!="):
                    raise no_overload()  # NaN is not ordered
                return python_op(value, as_double)
            if kind is int and I64_MIN <= value <= I64_MAX:
                return python_op(value, constant) if int_constant else python_op(float(value), as_double)
            return relation(value, constant)
        return number_relation
    return lambda s, l: relation(left(s, l), constant)


def _in_constant(left: Evaluator, constant: Any) -> Evaluator:
    if type(constant) is list and constant and all(type(item) is str for item in constant):
        members = frozenset(constant)

        def in_strings(s, l):
            value = left(s, l)
            kind = type(value)
            if kind is str:
                return value in members
            if kind in KNOWN:
                return False
            raise Unsure
        return in_strings
    return lambda s, l: contained(left(s, l), constant)


def _logic(terms: list[Evaluator], conjunction: bool) -> Evaluator:
    """``t1 && t2 && ...`` (or ``||``): evaluated left to right until a term decides (false for ``&&``, true
    for ``||``), which cel-rust's balanced tree of the chain also does; the tree only matters for which error
    is the result, computed from the terms' outcomes when no term decided."""
    decisive = not conjunction

    if len(terms) == 2:
        first, second = terms

        def pair(s, l):
            try:
                a = first(s, l)
            except Fail as failure:
                a = failure
            else:
                if a is decisive:
                    return decisive
            try:
                b = second(s, l)
            except Fail as failure:
                raise failure from None  # the right operand's error
            if b is decisive:
                return decisive
            if a is not decisive and (a is True or a is False) and (b is True or b is False):
                return b
            raise logic_error([a, b], 0, 0, decisive)
        return pair

    def chain(s, l):
        outcomes = []
        for term in terms:
            try:
                value = term(s, l)
            except Fail as failure:
                value = failure
            if value is decisive:
                return decisive
            outcomes.append(value)
        if all(value is (not decisive) for value in outcomes):
            return not decisive
        raise logic_error(outcomes, 0, len(outcomes) - 2, decisive)
    return chain


def _string_test(name: str, target: Evaluator, arg: Evaluator) -> Evaluator:
    test = {"contains": str.__contains__, "startsWith": str.startswith, "endsWith": str.endswith}[name]

    def string_test(s, l):
        needle = arg(s, l)  # the argument first, then the receiver
        text = target(s, l)
        if type(text) is str and type(needle) is str:
            return test(text, needle)
        if type(text) in KNOWN and type(needle) in KNOWN:
            raise Fail()  # the library has no such overload (its message names the function)
        raise Unsure
    return string_test


def _quantifier(decides: bool):
    """``all`` (decided by the first False) or ``exists`` (by the first True): a body that gives anything
    but a boolean before then is no overload."""
    other = not decides

    def quantify(items, var, body, s, l):
        (predicate,) = body
        for item in items:
            l[var] = item
            value = predicate(s, l)
            if value is decides:
                return decides
            if value is not other:
                raise no_overload()
        return other
    return quantify


_all, _exists = _quantifier(False), _quantifier(True)


def _exists_one(items, var, body, s, l):
    (predicate,) = body
    found = 0
    for item in items:
        l[var] = item
        value = predicate(s, l)
        if value is True:
            found += 1
        elif value is not False:
            raise no_overload()
    return found == 1


def _map(items, var, body, s, l):
    (transform,) = body
    result = []
    for item in items:
        l[var] = item
        result.append(transform(s, l))
    return result


def _map_filtered(items, var, body, s, l):
    keep, transform = body
    result = []
    for item in items:
        l[var] = item
        value = keep(s, l)
        if value is True:
            result.append(transform(s, l))
        elif value is not False:
            raise no_overload()
    return result


def _filter(items, var, body, s, l):
    (keep,) = body
    result = []
    for item in items:
        l[var] = item
        value = keep(s, l)
        if value is True:
            result.append(item)
        elif value is not False:
            raise no_overload()
    return result


_MACROS = {"all": _all, "exists": _exists, "exists_one": _exists_one, "map": _map, "filter": _filter}
