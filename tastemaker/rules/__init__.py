"""Declarative personalization rules: documents whose conditions are CEL expressions, evaluated per event
per person with cooldowns, frequency caps, a cross-rule fatigue budget and timers.

Rule document (YAML or JSON, one rule per document; unknown fields are refused)::

    id: cart-abandoned              # slug: [a-z0-9][a-z0-9_-]{0,63}
    version: 3                      # integer >= 1; a change must raise it (RuleSet.with_rule)
    description: Cart left for 30 minutes without checkout
    enabled: true                   # default true; a disabled rule is never evaluated, its timers dropped
    priority: 50                    # default 0; higher wins the fatigue budget, ties by id
    on: ["Product Added"]           # optional index: event labels (type or name) it is evaluated on;
                                    #   absent: derived from a top-level conjunct of `when` of the form
                                    #   event.name == "X" / event.name in ["X", "Y"] (or event.type ...),
                                    #   else the rule is evaluated on every event
    when: event.name == "Product Added"          # CEL condition (see context.py for what it can read)
    wait: 30m                       # optional: a match arms a timer due at event time + wait
    unless: event.name in ["Checkout Started", "Order Completed"]   # optional (timed rules): disarms
    rearm: true                     # timed rules: a new match moves the due time (false: keep the first)
    cooldown: 6h                    # optional: no firing within this long of the rule's last firing
    cap: {count: 3, per: 7d}        # optional: at most count firings per trailing `per`
    actions:                        # 1 to 10, in order
      - {type: decision, kind: message, block: cart-reminder, payload: {template: cart-reminder}}
      - {type: set_trait, name: cart_abandoner, value: true}
      - {type: add_segment, segment: abandoners}
      - {type: remove_segment, segment: buyers}

Decision kinds: content_block, offer, recommendation_block, message; ``block`` (optional) names the
block or placement, ``payload`` (optional mapping, <= 4 KB as JSON) is passed through. Decisions count
against the fatigue budget (guards.py); trait and segment actions do not.

Durations: whole numbers with a unit s, m, h, d ("90s", "10m", "1h", "7d", "1h30m"), up to 365d.

Limits keep evaluation time and state bounded: expressions <= 2,000 characters nesting at most 32 levels,
helper windows <= 30d, <= 10 actions, trait values <= 256 bytes, <= 2,000 rules per set. CEL always
terminates; each rule's estimated worst-case cost per event (cost.py: its conditions over the largest data
the caps allow) must be within cost.BUDGET (20,000 units, ~2 ms), checked when it is applied and again by
every worker reading it from the rules topic. YAML documents may not use anchors or aliases.

A timed rule fires when its timer is due (timers.py): the caller delivers the synthetic event
``{"type": "timer", "name": <rule id>, "event_time": <due>}`` for each ``Evaluation.armed``.

Per-person rule state (JSON, bounded, stored with the person; see guards.py and timers.py)::

    {"fired": {rule_id: [t, ...]},   "decisions": [t, ...],
     "timers": {rule_id: {"due": t, "version": v, "armed_by": {"at", "label", "signals"}}}}

Modules: durations (parsing), errors (RuleError), cel_source (static reading of CEL text), cel_ast (its
syntax tree), cost (the cost bound), context (variables, helpers, the per-event scope), compiled and inlined
(conditions compiled into Python with the cel library's semantics, which evaluates what they do not model),
conditions (compile and check), document (parse_rule), guards (cooldown, cap, fatigue), timers, ruleset
(RuleSet.evaluate).
"""

from tastemaker.rules.context import NoSignals, Signals, sample_context
from tastemaker.rules.document import Action, Cap, Rule, parse_rule
from tastemaker.rules.durations import parse_duration
from tastemaker.rules.errors import RuleError
from tastemaker.rules.guards import FatigueConfig
from tastemaker.rules.ruleset import Armed, Evaluation, Failure, Firing, RuleSet, Suppressed
from tastemaker.rules.timers import due_timers, timer_event

__all__ = [
    "Action", "Armed", "Cap", "Evaluation", "Failure", "FatigueConfig", "Firing", "NoSignals", "Rule", "RuleError",
    "RuleSet", "Signals", "Suppressed", "due_timers", "parse_duration", "parse_rule", "sample_context", "timer_event",
]
