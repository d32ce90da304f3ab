"""Static reading of CEL source text, for what the compiled ``cel.Program`` does not expose (it has no AST):

* ``index_labels``: the event labels a condition can only match on, from a top-level conjunct
  ``event.name == "X"``, ``event.name in ["X", "Y"]`` (or the same on ``event.type``);
* ``field_selection``: which fields of each variable a condition reads, at every depth, so that a CEL
  context (for a condition the cel library evaluates, context.py) converts only those (converting Python
  values into CEL costs ~2 us per string, ~17 us per map), and the profile is built with only those;
* ``paths``: the variable paths it reads (``profile.cart.value``), reported as the why of a match;
* ``calls``: the calls of given functions with their argument tokens (arity, literal windows);
* ``bound_names``: names bound by comprehension macros (``pages.exists(p, ...)``), which
  ``Program.variables()`` lists like real variables.

The syntax tree that the cost estimate needs is cel_ast.py's, on the same tokens.

The source has already compiled when these run, so the tokenizer is lenient: it only needs to tell
strings, identifiers and punctuation apart (strings may contain anything, including ``&&``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import cel

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})

_TOKEN = re.compile(
    r"""(?P<space>\s+|//[^\n]*)
      | (?P<string>[rRbB]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
      | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d+|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>&&|\|\||==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{}])""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, ident, punct
    text: str


def tokenize(source: str, strict: bool = False) -> list[Token]:
    """``strict``: a character outside CEL's tokens raises ValueError (else it is skipped: the source compiled)."""
    tokens, at = [], 0
    while at < len(source):
        match = _TOKEN.match(source, at)
        if not match:
            if strict:
                raise ValueError(f"unexpected character {source[at]!r} at {at + 1}")
            at += 1
            continue
        at = match.end()
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group()))
    return tokens


def string_value(token: Token) -> str | None:
    """The value of a string literal token (CEL decodes its own escapes), else None."""
    if token.kind != "string" or token.text[:1] in "bB":
        return None
    return cel.evaluate(token.text)


def _is(token: Token | None, kind: str, text: str | None = None) -> bool:
    return token is not None and token.kind == kind and (text is None or token.text == text)


def _top_level_split(tokens: list[Token], separator: str) -> list[list[Token]]:
    parts, depth, current = [], 0, []
    for token in tokens:
        if token.kind == "punct" and token.text in "([{":
            depth += 1
        elif token.kind == "punct" and token.text in ")]}":
            depth -= 1
        if depth == 0 and _is(token, "punct", separator):
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    return parts


def _strip_parens(tokens: list[Token]) -> list[Token]:
    while len(tokens) >= 2 and _is(tokens[0], "punct", "(") and _is(tokens[-1], "punct", ")"):
        depth = 0
        for i, token in enumerate(tokens):
            depth += token.text == "(" if token.kind == "punct" else 0
            depth -= token.text == ")" if token.kind == "punct" else 0
            if depth == 0 and i < len(tokens) - 1:
                return tokens  # "(a) && (b)": the first paren closes early
        tokens = tokens[1:-1]
    return tokens


def top_level_conjuncts(tokens: list[Token]) -> list[list[Token]]:
    """The parts of ``a && b && c``; the whole as one part if a top-level ``||`` or ``?:`` binds looser."""
    tokens = _strip_parens(tokens)
    if len(_top_level_split(tokens, "||")) > 1 or len(_top_level_split(tokens, "?")) > 1:
        return [tokens]
    return [_strip_parens(part) for part in _top_level_split(tokens, "&&")]


def _label_field(tokens: list[Token]) -> str | None:
    if len(tokens) == 3 and _is(tokens[0], "ident", "event") and _is(tokens[1], "punct", "."):
        if _is(tokens[2], "ident", "name") or _is(tokens[2], "ident", "type"):
            return tokens[2].text
    return None


def _conjunct_labels(tokens: list[Token]) -> tuple[str, frozenset[str]] | None:
    """``(field, labels)`` when the conjunct is ``event.F == "X"``, ``"X" == event.F`` or ``event.F in [...]``."""
    for i, token in enumerate(tokens):
        if _is(token, "punct", "=="):
            left, right = tokens[:i], tokens[i + 1:]
            for side, other in ((left, right), (right, left)):
                field = _label_field(side)
                if field and len(other) == 1 and string_value(other[0]) is not None:
                    return field, frozenset([string_value(other[0])])
            return None
        if _is(token, "ident", "in"):
            field = _label_field(tokens[:i])
            items = tokens[i + 1:]
            if not field or len(items) < 2 or not _is(items[0], "punct", "[") or not _is(items[-1], "punct", "]"):
                return None
            values = [part for part in _top_level_split(items[1:-1], ",") if part]
            if values and all(len(v) == 1 and string_value(v[0]) is not None for v in values):
                return field, frozenset(string_value(v[0]) for v in values)
            return None
    return None


def index_labels(tokens: list[Token]) -> frozenset[str] | None:
    """Labels the condition can only match on, or None when it may match any event. ``event.name`` conjuncts
    are preferred over ``event.type`` ones; one conjunct is used (an event is looked up by its type and its
    name, so intersecting a type set with a name set would be wrong)."""
    found = [c for c in map(_conjunct_labels, top_level_conjuncts(tokens)) if c]
    for wanted in ("name", "type"):
        for field, labels in found:
            if field == wanted:
                return labels
    return None


def bound_names(tokens: list[Token]) -> frozenset[str]:
    """Names bound by ``x.exists(n, ...)``-style macros."""
    names = set()
    for i in range(1, len(tokens) - 3):
        if (_is(tokens[i - 1], "punct", ".") and tokens[i].kind == "ident" and tokens[i].text in MACROS
                and _is(tokens[i + 1], "punct", "(") and tokens[i + 2].kind == "ident"
                and _is(tokens[i + 3], "punct", ",")):
            names.add(tokens[i + 2].text)
    return frozenset(names)


def paths(tokens: list[Token], roots: Iterable[str]) -> list[str]:
    """Dotted paths from the given roots, in order of first appearance; a path stops before a method call
    (``event.name.startsWith(...)`` reads ``event.name``)."""
    roots, found = frozenset(roots), []
    for i, token in enumerate(tokens):
        if token.kind != "ident" or token.text not in roots or (i and _is(tokens[i - 1], "punct", ".")):
            continue
        if _is(tokens[i + 1] if i + 1 < len(tokens) else None, "punct", "("):
            continue
        parts, j = [token.text], i + 1
        while (j + 1 < len(tokens) and _is(tokens[j], "punct", ".") and tokens[j + 1].kind == "ident"
               and not _is(tokens[j + 2] if j + 2 < len(tokens) else None, "punct", "(")):
            parts.append(tokens[j + 1].text)
            j += 2
        path = ".".join(parts)
        if path not in found:
            found.append(path)
    return found


Selection = dict  # field name -> Selection of its value, or None for the whole value


def field_selection(path_list: Iterable[str]) -> dict[str, Selection | None]:
    """Per root, the tree of fields read: ``profile.intent.purchase`` and ``profile.cart.value`` give
    ``{"profile": {"intent": {"purchase": None}, "cart": {"value": None}}}``; None: read whole (``event[k]``,
    ``size(profile.cart.items)`` reads ``items`` whole)."""
    selection: dict[str, Selection | None] = {}
    for path in path_list:
        root, *rest = path.split(".")
        selection[root] = merge_selections(selection[root], _chain(rest)) if root in selection else _chain(rest)
    return selection


def _chain(parts: list[str]) -> Selection | None:
    tree = None
    for part in reversed(parts):
        tree = {part: tree}
    return tree


def merge_selections(a: Selection | None, b: Selection | None) -> Selection | None:
    """What either selection reads."""
    if a is None or b is None:
        return None
    merged = dict(a)
    for key, sub in b.items():
        merged[key] = merge_selections(merged[key], sub) if key in merged else sub
    return merged


def select(value: Any, selection: Selection | None) -> Any:
    """The selected part of ``value``: keys not selected are left out (a selected key the value lacks stays
    absent, as it was); a non-map value is taken whole."""
    if selection is None or not isinstance(value, dict):
        return value
    return {key: select(value[key], sub) for key, sub in selection.items() if key in value}


def calls(tokens: list[Token], names: Iterable[str]) -> list[tuple[str, list[list[Token]]]]:
    """Free-function calls of the given names, each with its argument token lists."""
    names, found = frozenset(names), []
    for i, token in enumerate(tokens):
        if (token.kind != "ident" or token.text not in names or (i and _is(tokens[i - 1], "punct", "."))
                or not _is(tokens[i + 1] if i + 1 < len(tokens) else None, "punct", "(")):
            continue
        depth, j = 0, i + 1
        while j < len(tokens):
            if tokens[j].kind == "punct" and tokens[j].text in "([{":
                depth += 1
            elif tokens[j].kind == "punct" and tokens[j].text in ")]}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        inner = tokens[i + 2:j]
        found.append((token.text, [] if not inner else _top_level_split(inner, ",")))
    return found
