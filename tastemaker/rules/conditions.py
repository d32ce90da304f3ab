"""A rule's CEL condition (``when`` or ``unless``), compiled once and checked when the rule is applied, so a
mistake is refused then instead of failing on every event:

1. at most MAX_EXPRESSION_CHARS characters;
2. it compiles (a syntax error is reported with CEL's line:col and caret excerpt);
3. every top-level variable it reads is one of event, profile, session, now (``Program.variables()``,
   less names bound by comprehension macros), and every function it calls is a CEL built-in or one of the
   helpers (``Program.functions()``, less operators);
4. helpers get the right number of arguments, and literal windows (``count("X", "10m")``) parse as
   durations of at most MAX_WINDOW_S;
5. it nests at most cost.MAX_NESTING levels, and its estimated worst-case cost per event (cost.py: the
   evaluation over the largest data the caps allow, and converting what it reads into CEL) is within
   cost.BUDGET; the rule's ``when`` and ``unless`` together are held to the same budget (document.py);
6. evaluated against ``sample_context()``, it does not return a non-boolean (``event.name`` alone) and
   does not reach an undefined name. Data-dependent errors (a missing nested key) are not refused: they
   are counted when they happen.

Step 5 runs before step 6, so no condition is evaluated before its cost is known to be bounded.

An accepted condition is also compiled into Python (compiled.py, its common shapes inlined.py) that evaluates
it on the event's Python values with the cel library's semantics, converting nothing into CEL; it must give
the library's result and why on the sample context, else (and for what compiled.py does not model) the
condition is evaluated by the library.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
import cel

from tastemaker.rules import cel_ast, cel_source, compiled, cost, inlined
from tastemaker.rules.context import HELPER_ARITY, VARIABLES, WINDOWED_HELPERS, NoSignals, Scope, sample_context
from tastemaker.rules.durations import parse_duration
from tastemaker.rules.errors import RuleError

MAX_EXPRESSION_CHARS = 2_000
MAX_WINDOW_S = 30 * 86400  # the longest window a helper may count over
MAX_WHY_PATHS = 16

# Functions of the Rust cel crate (besides operators, whose names start with "_", "@" or "!").
BUILTINS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string", "bytes",
    "timestamp", "duration", "type", "dyn", "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth",
    "getDate", "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
})

_SYNTAX = re.compile(r"<input>:(\d+):(\d+): (.*)", re.DOTALL)


@dataclass(frozen=True)
class Condition:
    source: str
    program: cel.Program = field(compare=False, repr=False)
    labels: frozenset[str] | None  # the event labels it can only match on (None: any event)
    fields: dict[str, cel_source.Selection | None] = field(compare=False)  # per variable: the fields read
    paths: tuple[str, ...] = field(compare=False)  # variable paths read, reported as the why of a match
    cost: cost.Estimate | None = field(default=None, compare=False)  # worst case per event (cost.py)
    # compiled.py's closure deciding it on a scope, or None: the cel library evaluates it
    evaluator: compiled.Decider | None = field(default=None, compare=False, repr=False)


def compile_condition(source: object, where: str) -> Condition:
    """``where``: the field path reported in errors (``when``, ``unless``)."""
    if not isinstance(source, str) or not source.strip():
        raise RuleError(where, "must be a non-empty CEL expression (a string)")
    if len(source) > MAX_EXPRESSION_CHARS:
        raise RuleError(where, f"expression is {len(source)} characters, more than the limit of {MAX_EXPRESSION_CHARS}")
    try:
        program = cel.compile(source)
    except ValueError as error:
        raise RuleError(where, _syntax_reason(str(error))) from None
    tokens = cel_source.tokenize(source)
    _check_references(program, tokens, where)
    _check_helper_calls(tokens, where)
    paths = cel_source.paths(tokens, VARIABLES)
    fields = cel_source.field_selection(paths)
    estimate = _check_cost(source, fields, where)
    condition = Condition(source, program, cel_source.index_labels(tokens), fields, tuple(paths[:MAX_WHY_PATHS]),
                          estimate)
    on_sample = _check_on_sample(condition, where)
    evaluator = inlined.compile_tree(cel_ast.parse(source, cost.MAX_NESTING), tokens)
    if evaluator is not None and _agrees_on_sample(condition, evaluator, on_sample):
        condition = dataclasses.replace(condition, evaluator=evaluator)
    return condition


def _check_cost(source: str, fields: dict[str, cel_source.Selection | None], where: str) -> cost.Estimate:
    try:
        estimate = cost.estimate(source, fields)
    except cost.CostError as error:
        raise RuleError(where, str(error)) from None
    if estimate.cost > cost.BUDGET:
        raise RuleError(where, f"estimated cost {estimate.cost} exceeds the budget {cost.BUDGET} per event "
                               f"({estimate.costliest})")
    return estimate


def _syntax_reason(message: str) -> str:
    match = _SYNTAX.search(message)
    if not match:
        return f"CEL syntax error: {message}"
    line, column, rest = match.groups()
    return f"CEL syntax error at line {line}:{column}: {rest.strip()}"


def _check_references(program: cel.Program, tokens: list[cel_source.Token], where: str) -> None:
    references = program.references()
    unknown = sorted(set(references["variables"]) - set(VARIABLES) - cel_source.bound_names(tokens))
    if unknown:
        raise RuleError(where, f"unknown variable {unknown[0]!r}: conditions can read {', '.join(VARIABLES)}")
    unknown = sorted(name for name in references["functions"]
                     if name[:1] not in "_@!" and name not in BUILTINS and name not in HELPER_ARITY)
    if unknown:
        raise RuleError(where, f"unknown function {unknown[0]!r}: helpers are {', '.join(HELPER_ARITY)}")


def _check_helper_calls(tokens: list[cel_source.Token], where: str) -> None:
    for name, args in cel_source.calls(tokens, HELPER_ARITY):
        if len(args) != HELPER_ARITY[name]:
            raise RuleError(where, f"{name}() takes {HELPER_ARITY[name]} argument(s), not {len(args)}")
        if name not in WINDOWED_HELPERS:
            continue
        window = args[1]
        if len(window) == 1 and window[0].kind == "string":
            try:
                seconds = parse_duration(cel_source.string_value(window[0]))
            except ValueError as error:
                raise RuleError(where, f"{name}() window: {error}") from None
            if seconds > MAX_WINDOW_S:
                raise RuleError(where, f"{name}() window {window[0].text} is longer than the maximum of 30d")


def _sample_scope() -> Scope:
    sample = sample_context()
    return Scope(sample["event"], sample["profile"], sample["session"], NoSignals(), sample["now"],
                 {name: None for name in VARIABLES})


def _check_on_sample(condition: Condition, where: str) -> tuple:
    """Refuses the condition for a non-boolean result or an undefined name; gives the library's outcome."""
    scope = _sample_scope()
    try:
        result = scope.run_cel(condition.program)
    except RuntimeError as error:  # undefined names surface as RuntimeError; data errors are other types
        if "Undefined variable or function" in str(error):
            raise RuleError(where, str(error)) from None
        return _error(error)
    except Exception as error:  # noqa: BLE001 - data-dependent (missing key, type): counted at run time instead
        return _error(error)
    if not isinstance(result, bool):
        raise RuleError(where, f"must be a boolean condition; on the sample context it gives {type(result).__name__}")
    return "value", result, scope.why(condition.paths)


def _error(error: Exception) -> tuple:
    return "error", f"{type(error).__name__}: {error}"


def _agrees_on_sample(condition: Condition, evaluator: compiled.Decider, library: tuple) -> bool:
    """Whether the compiled evaluator gives the library's outcome (result and why, or error) on the sample
    context, or leaves the condition to the library (a safety net: tests/unit/test_rules_compiled.py is the
    proof)."""
    scope = _sample_scope()
    try:
        decided = evaluator(scope)
    except Exception as error:  # noqa: BLE001
        return _error(error) == library
    return decided is None or ("value", decided, scope.why(condition.paths)) == library
