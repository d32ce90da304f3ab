"""A syntax tree of a CEL condition, for estimating its cost (cost.py) and compiling it into Python
(compiled.py): the compiled ``cel.Program`` of the binding (common-expression-language, the Rust ``cel``
crate) exposes no syntax tree and no cost tracking.

The grammar is CEL's (cel-spec, langdef.md "Syntax"), parsed by recursive descent::

    Expr     = Or ["?" Or ":" Expr]            Member  = Primary {"." IDENT ["(" [Args] ")"] | "[" Expr "]"}
    Or       = And {"||" And}                  Primary = ["."] IDENT ["(" [Args] ")"] | "(" Expr ")"
    And      = Rel {"&&" Rel}                            | "[" [Args] [","] "]" | "{" [Entries] [","] "}"
    Rel      = Add {("<"|"<="|">="|">"|"=="|"!="|"in") Add}  | LITERAL
    Add      = Mul {("+"|"-") Mul}             Args    = Expr {"," Expr}
    Mul      = Unary {("*"|"/"|"%") Unary}     Entries = Expr ":" Expr {"," Expr ":" Expr}
    Unary    = {"!" | "-"} Member

A run of one precedence level (``a && b && c``, ``a + b - c``) is one ``Chain`` node, so a long condition
is a wide tree, not a deep one. Macros (``x.all(v, e)``, ``exists``, ``exists_one``, ``map`` with 2 or 3
arguments, ``filter``, and ``has(x.f)``) become ``Comprehension`` and ``Has`` nodes, as CEL expands them.

Parsing runs after ``cel.compile`` accepted the source, so it only has to agree with CEL on valid input;
anything it does not know (message construction ``T{f: v}``, a character outside the grammar) is refused
as ``Unsupported``: a condition whose cost cannot be estimated is not accepted. Nesting (brackets, calls,
macros, unary operators, field selections: every level of the tree) is refused past ``max_depth``, so
neither this parser nor the estimator walking the tree can exhaust Python's stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from tastemaker.rules.cel_source import Token, string_value, tokenize

MACROS = {"all": (2, 3), "exists": (2, 3), "exists_one": (2, 3), "map": (2, 3), "filter": (2, 3)}
RELATIONS = ("<", "<=", ">=", ">", "==", "!=", "in")


class Unsupported(ValueError):
    """The source uses something this parser does not model."""


class TooDeep(ValueError):
    def __init__(self, depth: int):
        super().__init__(f"nests more than {depth} levels deep")
        self.depth = depth


@dataclass(frozen=True)
class Literal:
    kind: str  # int, uint, double, string, bytes, bool, null
    text: str  # string and bytes: the decoded value (bytes: the literal's text, an upper bound)


@dataclass(frozen=True)
class Ident:
    name: str


@dataclass(frozen=True)
class Select:
    operand: "Node"
    field: str


@dataclass(frozen=True)
class Has:
    operand: "Node"  # a Select


@dataclass(frozen=True)
class Index:
    operand: "Node"
    index: "Node"


@dataclass(frozen=True)
class Call:
    function: str
    target: "Node | None"  # x.f(...) has target x
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Unary:
    ops: str  # "!", "-", "!!", ...: applied right to left
    operand: "Node"


@dataclass(frozen=True)
class Chain:
    """``first op1 operand1 op2 operand2 ...`` of one precedence level, evaluated left to right."""

    first: "Node"
    rest: tuple[tuple[str, "Node"], ...]


@dataclass(frozen=True)
class Ternary:
    condition: "Node"
    then: "Node"
    otherwise: "Node"


@dataclass(frozen=True)
class ListLiteral:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class MapLiteral:
    entries: tuple[tuple["Node", "Node"], ...]


@dataclass(frozen=True)
class Comprehension:
    macro: str
    range: "Node"
    variables: tuple[str, ...]
    body: tuple["Node", ...]  # map with 3 arguments: (filter, transform); otherwise one expression


Node = Union[Literal, Ident, Select, Has, Index, Call, Unary, Chain, Ternary, ListLiteral, MapLiteral, Comprehension]


def parse(source: str, max_depth: int) -> Node:
    """The tree of ``source`` (already accepted by ``cel.compile``); Unsupported or TooDeep otherwise."""
    tokens = tokenize(source, strict=True)
    parser = _Parser(tokens, max_depth)
    node = parser.expr()
    if parser.at < len(tokens):
        raise Unsupported(f"unexpected {tokens[parser.at].text!r}")
    return node


def depth(node: Node) -> int:
    """Levels of the tree (a literal or a name is 1)."""
    return 1 + max((depth(child) for child in children(node)), default=0)


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (Select, Has)):
        return (node.operand,)
    if isinstance(node, Index):
        return node.operand, node.index
    if isinstance(node, Call):
        return ((node.target,) if node.target is not None else ()) + node.args
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Chain):
        return (node.first, *(operand for _, operand in node.rest))
    if isinstance(node, Ternary):
        return node.condition, node.then, node.otherwise
    if isinstance(node, ListLiteral):
        return node.items
    if isinstance(node, MapLiteral):
        return tuple(part for entry in node.entries for part in entry)
    if isinstance(node, Comprehension):
        return (node.range, *node.body)
    return ()


class _Parser:
    def __init__(self, tokens: list[Token], max_depth: int) -> None:
        self.tokens, self.at, self.max_depth, self.depth = tokens, 0, max_depth, 0

    # -- tokens --
    def peek(self, offset: int = 0) -> Token | None:
        at = self.at + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def is_punct(self, *texts: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "punct" and token.text in texts

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise Unsupported("unexpected end of the expression")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.text != text:
            raise Unsupported(f"expected {text!r}, found {token.text!r}")

    def deeper(self, levels: int = 1) -> None:
        self.depth += levels
        if self.depth > self.max_depth:
            raise TooDeep(self.max_depth)

    # -- grammar --
    def expr(self) -> Node:
        self.deeper()
        try:
            condition = self.chain(0)
            if not self.is_punct("?"):
                return condition
            self.take()
            then = self.chain(0)
            self.expect(":")
            return Ternary(condition, then, self.expr())
        finally:
            self.depth -= 1

    _LEVELS = (("||",), ("&&",), RELATIONS, ("+", "-"), ("*", "/", "%"))

    def chain(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.unary()
        operators = self._LEVELS[level]
        first, rest = self.chain(level + 1), []
        while True:
            token = self.peek()
            if token is None or token.text not in operators or token.kind not in ("punct", "ident"):
                break
            self.take()
            rest.append((token.text, self.chain(level + 1)))
        return Chain(first, tuple(rest)) if rest else first

    def unary(self) -> Node:
        ops = ""
        while self.is_punct("!", "-"):
            ops += self.take().text
        self.deeper(len(ops))
        try:
            operand = self.member()
        finally:
            self.depth -= len(ops)
        return Unary(ops, operand) if ops else operand

    def member(self) -> Node:
        node, levels = self.primary(), 0
        try:
            while self.is_punct(".", "["):
                self.deeper()
                levels += 1
                if self.take().text == "[":
                    index = self.expr()
                    self.expect("]")
                    node = Index(node, index)
                    continue
                name = self.take()
                if name.kind != "ident":
                    raise Unsupported(f"expected a field name after '.', found {name.text!r}")
                if not self.is_punct("("):
                    node = Select(node, name.text)
                    continue
                self.take()
                node = self.method(node, name.text, self.arguments(")"))
        finally:
            self.depth -= levels
        return node

    def method(self, target: Node, name: str, args: tuple[Node, ...]) -> Node:
        counts = MACROS.get(name)
        if counts and len(args) in counts and isinstance(args[0], Ident):
            two_variables = len(args) == 3 and isinstance(args[1], Ident) and name != "map"
            if two_variables:  # all(i, v, e): index (or key) and value
                return Comprehension(name, target, (args[0].name, args[1].name), (args[2],))
            return Comprehension(name, target, (args[0].name,), args[1:])
        return Call(name, target, args)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "punct" and token.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if token.kind == "punct" and token.text == "[":
            return ListLiteral(self.arguments("]"))
        if token.kind == "punct" and token.text == "{":
            return MapLiteral(self.entries())
        if token.kind == "punct" and token.text == "." and self.peek() is not None and self.peek().kind == "ident":
            token = self.take()  # a name from the root scope: ".event"
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return Literal("bool", token.text)
            if token.text == "null":
                return Literal("null", token.text)
            if self.is_punct("{"):
                raise Unsupported("message construction (Type{field: value}) is not supported")
            if self.is_punct("("):
                self.take()
                args = self.arguments(")")
                if token.text == "has":
                    if len(args) != 1 or not isinstance(args[0], Select):
                        raise Unsupported("has() takes one field selection")
                    return Has(args[0])
                return Call(token.text, None, args)
            return Ident(token.text)
        if token.kind == "number":
            text = token.text.lower()
            if text.endswith("u"):
                return Literal("uint", token.text)
            is_double = not text.startswith("0x") and any(c in text for c in ".e")
            return Literal("double" if is_double else "int", token.text)
        if token.kind == "string":
            prefix = token.text[:len(token.text) - len(token.text.lstrip("rRbB"))]
            if "b" in prefix.lower():
                return Literal("bytes", token.text)
            return Literal("string", string_value(token))
        raise Unsupported(f"unexpected {token.text!r}")

    def arguments(self, closing: str) -> tuple[Node, ...]:
        self.deeper()
        try:
            items = []
            while not self.is_punct(closing):
                items.append(self.expr())
                if not self.is_punct(closing):
                    self.expect(",")
            self.expect(closing)
            return tuple(items)
        finally:
            self.depth -= 1

    def entries(self) -> tuple[tuple[Node, Node], ...]:
        self.deeper()
        try:
            entries = []
            while not self.is_punct("}"):
                key = self.expr()
                self.expect(":")
                entries.append((key, self.expr()))
                if not self.is_punct("}"):
                    self.expect(",")
            self.expect("}")
            return tuple(entries)
        finally:
            self.depth -= 1
