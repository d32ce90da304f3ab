"""A compiled condition (compiled.py) as one generated Python function, which is what conditions.py keeps
as the condition's evaluator: its common shapes inlined (bench/rules_micro.py measures both: ~1.5 to 3
times faster than compiled.py's closures calling each other, a Python call costing ~70 ns).

Inlined: chains of ``&&`` / ``||`` (the top one returning as soon as a term decides), ``!``, comparisons
(``==``, ``<``, ``in``, ...) of values with constants or with each other, ``has``, and the macros ``all``,
``exists`` and ``exists_one`` (their variable a local); values: a variable's field (``profile.cart.value``),
a macro variable's field (``p.dwell_ms``), a helper called with constants, ``size`` of a value, a constant.
Any other part is one of compiled.py's closures, called from the generated function (a macro whose body
needs a closure reading its variable is a closure whole). The semantics are compiled.py's, part for part
(tests/unit/test_rules_compiled.py compares the generated functions and the closures with the cel library).

The generated source names only its own locals and the constants it is given (``C0``, ``K1``, ...): no text
of the condition is pasted into it. Source that Python refuses (nesting too deep) leaves the closures.
"""

from __future__ import annotations

from typing import Any

from tastemaker.rules import cel_values, compiled
from tastemaker.rules.cel_ast import (Call, Chain, Comprehension, Has, Ident, ListLiteral, Literal, Node, Select,
                                      Unary, children)
from tastemaker.rules.cel_values import I64_MAX, I64_MIN, KNOWN, MISSING, Fail, Unsure
from tastemaker.rules.compiled import Decider
from tastemaker.rules.context import DEFAULTS, UNLOADED, VARIABLES

_RUNTIME = {
    "MISSING": MISSING, "KNOWN": KNOWN, "Fail": Fail, "Unsure": Unsure, "I64_MIN": I64_MIN, "I64_MAX": I64_MAX,
    "UNLOADED": UNLOADED, "no_key": cel_values.no_key, "no_overload": cel_values.no_overload,
    "not_a_map": cel_values.not_a_map, "fresh_helper": compiled.fresh_helper, "size": cel_values.size,
    "str_in": cel_values.str_in, "contained": cel_values.contained, "iterated": cel_values.iterated,
    "logic_error": cel_values.logic_error, "dict": dict, "str": str, "float": float, "bool": bool,
    "Exception": Exception, "KeyError": KeyError, "TypeError": TypeError,
}
_CODE: dict[str, Any] = {}  # generated source -> its code object
_CODE_MAX = 1_024
_RELATIONS = ("==", "!=", "<", "<=", ">", ">=")
_ORDERING = ("<", "<=", ">", ">=")
_MACROS = ("all", "exists", "exists_one")


def compile_tree(tree: Node, tokens: list | None = None) -> Decider | None:
    """compiled.compile_tree's decider, as one generated function where that inlines something."""
    closures = compiled.compile_tree(tree, tokens)
    if closures is None:
        return None
    try:
        return _Generator().decider(tree)
    except (_Other, SyntaxError, RecursionError, MemoryError, ValueError):
        return closures


class _Other(Exception):
    """A part this module does not inline."""


class _Generator:
    def __init__(self) -> None:
        self.names: dict[str, Any] = dict(_RUNTIME)
        self.lines: list[str] = []
        self.closures = compiled.Compiler()
        self.uses_variables = False  # a closure is called: it gets a dict of macro variables
        self.inlined = 0  # parts inlined (none: the closures alone are as good)
        self.count = 0

    def constant(self, value: Any, prefix: str = "C") -> str:
        name = f"{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def local(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def emit(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)

    # -- the function --
    def decider(self, tree: Node) -> Decider:
        if isinstance(tree, Chain) and tree.rest[0][0] in ("&&", "||"):
            terms = [tree.first] + [term for _, term in tree.rest]
            conjunction = tree.rest[0][0] == "&&"
        else:
            terms, conjunction = [tree], True
        decisive = "False" if conjunction else "True"
        outcomes = []
        for i, term in enumerate(terms):
            self.emit(2, "try:")
            self.term_or_closure(term, 3, {})
            self.emit(2, "except Fail as failure:", "    v = failure")
            if len(terms) == 1:
                self.emit(2, "if v is True or v is False:", "    return v", "if v.__class__ is Fail:", "    raise v",
                          "return None")
                break
            outcome = self.local("o")
            self.emit(2, f"if v is {decisive}:", f"    return {decisive}", f"{outcome} = v")
            outcomes.append(outcome)
        else:
            neutral = "True" if conjunction else "False"
            self.emit(2, f"if {' and '.join(f'{o} is {neutral}' for o in outcomes)}:", f"    return {neutral}",
                      f"raise logic_error([{', '.join(outcomes)}], 0, {len(outcomes) - 2}, {decisive})")
        if not self.inlined:
            raise _Other("nothing inlined")
        if _calls_helpers(tree):
            head = ["def decide(s):", "    s.used = []", "    s.failed = None"]
        else:  # nothing to record (the why's calls), nothing to fail (a helper)
            head = ["def decide(s):", "    s.used = ()"]
        if self.uses_variables:
            head.append("    l = {}")
        head.append("    try:")
        self.lines[:0] = head
        self.emit(1, "except Fail as failure:", "    if failure.error is not None:",
                  "        raise failure.error from None", "    return None",
                  "except Exception as error:", "    if error is s.failure:", "        raise", "    return None")
        source = "\n".join(self.lines) + "\n"
        namespace = self.names
        code = _CODE.get(source)
        if code is None:  # conditions of one shape (constants aside) have one source: compiled once (~1 ms)
            code = compile(source, "<condition>", "exec")
            if len(_CODE) >= _CODE_MAX:
                _CODE.clear()
            _CODE[source] = code
        exec(code, namespace)  # noqa: S102 - generated from the tree, see the module's docstring
        decide = namespace["decide"]
        decide.source = source  # type: ignore[attr-defined] - for tests and debugging
        return decide

    # -- terms: each leaves its value in ``v`` or raises Fail (an error) or Unsure --
    def term_or_closure(self, node: Node, indent: int, bound: dict[str, str]) -> None:
        mark = len(self.lines)
        try:
            self.term(node, indent, bound)
            self.inlined += 1
        except _Other:
            del self.lines[mark:]
            if _reads(node, set(bound)):
                raise  # a closure cannot read a local: the macro binding it is a closure whole
            fn, _ = self.closures.node(node, frozenset())
            self.uses_variables = True
            self.emit(indent, f"v = {self.constant(fn, 'F')}(s, l)")

    def term(self, node: Node, indent: int, bound: dict[str, str]) -> None:
        if isinstance(node, Unary) and node.ops == "!":
            self.term_or_closure(node.operand, indent, bound)
            self.emit(indent, "if v is True:", "    v = False", "elif v is False:", "    v = True",
                      "else:", "    raise no_overload()")
        elif isinstance(node, Chain) and node.rest[0][0] in ("&&", "||"):
            self.chain(node, indent, bound)
        elif isinstance(node, Chain) and len(node.rest) == 1 and node.rest[0][0] in (*_RELATIONS, "in"):
            self.comparison(node, indent, bound)
        elif isinstance(node, Has):
            self.has(node, indent, bound)
        elif isinstance(node, Comprehension) and node.macro in _MACROS and len(node.variables) == 1 \
                and len(node.body) == 1:
            self.macro(node, indent, bound)
        else:
            self.value(node, indent, "v", bound)

    def chain(self, node: Chain, indent: int, bound: dict[str, str]) -> None:
        """``t1 && t2 && ...``: left to right while no term decides (see compiled._logic)."""
        conjunction = node.rest[0][0] == "&&"
        decisive, neutral = ("False", "True") if conjunction else ("True", "False")
        terms = [node.first] + [term for _, term in node.rest]
        outcomes = []
        for i, term in enumerate(terms):
            self.emit(indent, "try:")
            self.term_or_closure(term, indent + 1, bound)
            self.emit(indent, "except Fail as failure:", "    v = failure", f"if v is not {decisive}:")
            indent += 1
            outcome = self.local("o")
            outcomes.append(outcome)
            self.emit(indent, f"{outcome} = v")
        self.emit(indent, f"if {' and '.join(f'{o} is {neutral}' for o in outcomes)}:", f"    v = {neutral}",
                  "else:", f"    raise logic_error([{', '.join(outcomes)}], 0, {len(outcomes) - 2}, {decisive})")

    def comparison(self, node: Chain, indent: int, bound: dict[str, str]) -> None:
        op, right = node.rest[0]
        if op == "in":
            members = self.string_list(right)
            if members is not None:
                self.value(node.first, indent, "x", bound)
                self.emit(indent, "k = x.__class__",
                          "if k is str:", f"    v = x in {self.constant(frozenset(members))}",
                          "elif k in KNOWN:", "    v = False",
                          "else:", "    raise Unsure")
            elif isinstance(node.first, Literal) and node.first.kind == "string":
                self.value(right, indent, "x", bound)
                self.emit(indent, f"v = str_in({self.constant(node.first.text)}, x)")
            else:
                self.value(node.first, indent, "x", bound)
                self.value(right, indent, "y", bound)
                self.emit(indent, "v = contained(x, y)")
            return
        constant = self.scalar(right)
        if constant is _NOT_SCALAR:
            self.value(node.first, indent, "x", bound)
            self.value(right, indent, "y", bound)
            self.emit(indent, f"v = {self.constant(compiled.RELATIONS[op], 'R')}(x, y)")
            return
        self.value(node.first, indent, "x", bound)
        kind = type(constant)
        name = self.constant(constant)
        if kind is str or kind is bool or constant is None:
            if op not in ("==", "!="):
                self.emit(indent, f"v = {self.constant(compiled.RELATIONS[op], 'R')}(x, {name})")
                return
            equal, unequal = ("True", "False") if op == "==" else ("False", "True")
            same = "x is None" if constant is None else f"x.__class__ is {kind.__name__}"
            result = equal if constant is None else f"x {op} {name}"
            self.emit(indent, f"if {same}:", f"    v = {result}",
                      "elif x.__class__ in KNOWN:", f"    v = {unequal}",
                      "else:", "    raise Unsure")
            return
        as_double = self.constant(float(constant))
        general = self.constant(compiled.RELATIONS[op], "R")
        self.emit(indent, "k = x.__class__", "if k is float:")
        if op in _ORDERING:
            self.emit(indent + 1, "if x != x:", "    raise no_overload()")  # NaN is not ordered
        self.emit(indent + 1, f"v = x {op} {as_double}")
        if kind is int:
            self.emit(indent, "elif k is int and I64_MIN <= x <= I64_MAX:", f"    v = x {op} {name}")
        else:
            self.emit(indent, "elif k is int and I64_MIN <= x <= I64_MAX:", f"    v = float(x) {op} {as_double}")
        self.emit(indent, "else:", f"    v = {general}(x, {name})")

    def has(self, node: Has, indent: int, bound: dict[str, str]) -> None:
        target: Select = node.operand
        field = self.constant(target.field, "N")
        root = target.operand
        if isinstance(root, Ident) and root.name in VARIABLES and root.name != "now" and root.name not in bound:
            if target.field in DEFAULTS[root.name]:
                self.emit(indent, "v = True")
            else:
                self.variable(root.name, indent, "x")
                self.emit(indent, f"v = {field} in x")
            return
        self.value(root, indent, "x", bound)
        self.emit(indent, "if x.__class__ is dict:", f"    v = {field} in x", "else:", "    raise not_a_map(x)")

    def macro(self, node: Comprehension, indent: int, bound: dict[str, str]) -> None:
        """all / exists / exists_one: an error in the body stops it (see compiled._all)."""
        mark = len(self.lines)
        try:
            self.value(node.range, indent, "x", bound)
        except _Other:
            del self.lines[mark:]
            if _reads(node.range, set(bound)):
                raise
            fn, _ = self.closures.node(node.range, frozenset())
            self.uses_variables = True
            self.emit(indent, f"x = {self.constant(fn, 'F')}(s, l)")
        items, variable, result = self.local("items"), self.local("b"), self.local("r")
        self.emit(indent, f"{items} = iterated(x)")
        start = {"all": "True", "exists": "False", "exists_one": "0"}[node.macro]
        self.emit(indent, f"{result} = {start}", f"for {variable} in {items}:")
        self.term_or_closure(node.body[0], indent + 1, {**bound, node.variables[0]: variable})
        if node.macro == "all":
            self.emit(indent + 1, "if v is False:", f"    {result} = False", "    break",
                      "if v is not True:", "    raise no_overload()")
        elif node.macro == "exists":
            self.emit(indent + 1, "if v is True:", f"    {result} = True", "    break",
                      "if v is not False:", "    raise no_overload()")
        else:
            self.emit(indent + 1, "if v is True:", f"    {result} += 1", "elif v is not False:",
                      "    raise no_overload()")
            result = f"{result} == 1"
        self.emit(indent, f"v = {result}")

    # -- values: into ``into``, or Fail / Unsure --
    def value(self, node: Node, indent: int, into: str, bound: dict[str, str]) -> None:
        constant = self.scalar(node)
        if constant is not _NOT_SCALAR:
            self.emit(indent, f"{into} = {self.constant(constant)}")
            return
        fields = []
        operand = node
        while isinstance(operand, Select):
            fields.append(operand.field)
            operand = operand.operand
        fields.reverse()
        if isinstance(operand, Ident) and operand.name in bound:
            self.emit(indent, f"{into} = {bound[operand.name]}")
            self.selects(fields, indent, into)
            return
        if fields and isinstance(operand, Ident) and operand.name in VARIABLES and operand.name != "now" \
                and not (operand.name == "event" and fields[0] == "traits"):
            self.variable(operand.name, indent, "g")
            first = self.constant(fields[0], "N")
            default = self.constant(DEFAULTS[operand.name].get(fields[0], MISSING), "D")
            self.emit(indent, f"{into} = g.get({first}, {default})",
                      f"if {into} is MISSING:", f"    raise no_key({first})")
            self.selects(fields[1:], indent, into)
            return
        if isinstance(node, Call):
            if node.function == "size" and ((node.target is None and len(node.args) == 1) or
                                            (node.target is not None and not node.args)):
                self.value(node.args[0] if node.target is None else node.target, indent, into, bound)
                self.emit(indent, f"{into} = size({into})")
                return
            call = self.helper_call(node) if node.function in compiled.HELPER_ARITY else None
            if call is not None:
                key = self.constant(call, "K")
                self.emit(indent, f"{into} = s.memo.get({key}, MISSING)",
                          f"if {into} is MISSING:", f"    {into} = fresh_helper(s, {key})",
                          "else:", f"    s.used.append({key})",
                          f"    if {into}.__class__ is int and ({into} > I64_MAX or {into} < I64_MIN):",
                          "        raise Unsure")
                return
        raise _Other(type(node).__name__)

    def variable(self, name: str, indent: int, into: str) -> None:
        """The variable as given into ``into`` (a profile or session loaded when first read)."""
        if name == "event":
            self.emit(indent, f"{into} = s.event")
        else:
            self.emit(indent, f"{into} = s.{name}", f"if {into} is UNLOADED:", f"    {into} = s.load({name!r})")

    def selects(self, fields: list[str], indent: int, into: str) -> None:
        for field in fields:  # a field of a map; of anything else (a list, a string, null), not_a_map's error
            key = self.constant(field, "N")
            self.emit(indent, "try:", f"    {into} = {into}[{key}]",
                      "except KeyError:", f"    raise no_key({key}) from None",
                      "except TypeError:", f"    raise not_a_map({into}) from None")

    def helper_call(self, node: Call) -> tuple | None:
        args = ([node.target] if node.target is not None else []) + list(node.args)
        if len(args) != compiled.HELPER_ARITY[node.function]:
            return None
        values = []
        for arg in args:
            value = self.scalar(arg)
            if value is _NOT_SCALAR or not compiled.plain(value):
                return None
            values.append(value)
        call = (node.function, *values)
        try:
            hash(call)
        except TypeError:
            return None
        return call

    def scalar(self, node: Node) -> Any:
        """The value of a string, int, double, bool or null literal (a negated number too), else _NOT_SCALAR."""
        negative = False
        if isinstance(node, Unary) and node.ops == "-" and isinstance(node.operand, Literal):
            negative, node = True, node.operand
        if not isinstance(node, Literal):
            return _NOT_SCALAR
        if node.kind in ("int", "double") or (not negative and node.kind in ("string", "bool", "null")):
            if negative and node.kind == "int":
                _, value = self.closures.unary(Unary("-", node), frozenset())
            else:
                _, value = self.closures.literal(node)
                value = -value if negative else value
            return value
        return _NOT_SCALAR

    def string_list(self, node: Node) -> list[str] | None:
        if isinstance(node, ListLiteral) and node.items and all(
                isinstance(item, Literal) and item.kind == "string" for item in node.items):
            return [item.text for item in node.items]
        return None


def _calls_helpers(node: Node) -> bool:
    if isinstance(node, Call) and node.function in compiled.HELPER_ARITY:
        return True
    return any(_calls_helpers(child) for child in children(node))


def _reads(node: Node, names: set[str]) -> bool:
    """Whether ``node`` reads one of ``names`` (not rebound by a macro within it)."""
    if not names:
        return False
    if isinstance(node, Ident):
        return node.name in names
    if isinstance(node, Comprehension):
        inner = names - set(node.variables)
        return _reads(node.range, names) or any(_reads(part, inner) for part in node.body)
    return any(_reads(child, names) for child in children(node))


_NOT_SCALAR = object()
