"""The rules in force on this worker: the compacted ``rules`` topic, read whole by every worker.

    PUT /rules/{id}, faust -A app rules apply ──▶ rules topic (key: rule id, value: the rule document as JSON;
                                                   a tombstone deletes) ──▶ every worker's TopicFollower
                                                                            ──▶ RuleSet ──▶ agents/person

A worker starts judging events only once it has read the topic to its end (``ready``), so a restarted worker
never evaluates an event without the rules an uninterrupted one would have had. A record that is not a valid
rule (another producer wrote it, bypassing the API) is logged, counted and removes the rule of its key: the
latest record of a key decides, as after compaction. Valid means what the API checks too, the condition's
cost bound included (tastemaker/rules/cost.py), so no producer can make a worker evaluate a costlier rule.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace

import orjson

from app import stage_reports
from app.main import app, settings
from app.topic_follower import TopicFollower
from app.topics import rules as rules_topic
from tastemaker.behaviour import Knowledge
from tastemaker.page_types import PageTypes
from tastemaker.rules import FatigueConfig, RuleError, RuleSet, parse_rule
from tastemaker.sessions import SessionConfig
from tastemaker.windows import WindowConfig

log = logging.getLogger(__name__)

OUTCOMES: Counter[str] = Counter()


def configured_knowledge() -> Knowledge:
    """Every configuration the person stage judges with, from the settings; no rules yet."""
    page_types = PageTypes.from_spec(settings.page_types)
    return Knowledge(
        rules=RuleSet(fatigue=FatigueConfig(settings.fatigue_per_session, settings.fatigue_per_day)),
        sessions=SessionConfig(idle_timeout=settings.session_idle, close_grace=settings.session_close_grace,
                               page_types=page_types),
        windows=WindowConfig(grace=settings.late_grace),
        page_types=page_types,
    )


class RuleBook:
    def __init__(self) -> None:
        self.knowledge = configured_knowledge()
        self.documents: dict[str, dict] = {}  # rule id -> its document as stored, for GET /rules

    def on_record(self, key: bytes | None, value: bytes | None) -> None:
        rule_id = (key or b"").decode(errors="replace")
        rules = self.knowledge.rules
        if value is None:
            self.knowledge = replace(self.knowledge, rules=rules.without(rule_id))
            self.documents.pop(rule_id, None)
            OUTCOMES["deleted"] += 1
            return
        try:
            document = orjson.loads(value)
            rule = parse_rule(document)
            if rule.id != rule_id:
                raise RuleError("id", f"the record's key {rule_id!r} is not the rule's id {rule.id!r}")
        except Exception as exc:  # noqa: BLE001 — RuleError, orjson's ValueError, whatever a producer's record holds
            # The latest record of a key decides, valid or not: a worker replaying the topic after compaction
            # sees only that record, and every worker must judge by the same rules.
            log.warning("rules topic: record for %r is not a valid rule, the rule is removed: %s", rule_id, exc)
            self.knowledge = replace(self.knowledge, rules=rules.without(rule_id))
            self.documents.pop(rule_id, None)
            OUTCOMES["refused"] += 1
            stage_reports.OUTCOMES["refused:rules"] += 1  # GET /stats/ingest
            return
        # Not with_rule's version check alone: the topic is the record (the API and CLI never write a lower
        # version; another producer might, and after compaction a fresh worker would take it as the first).
        rules = rules.without(rule_id).with_rule(rule)
        self.knowledge = replace(self.knowledge, rules=rules)
        self.documents[rule_id] = document
        OUTCOMES["applied"] += 1


rulebook = RuleBook()
follower = TopicFollower(rules_topic.get_topic_name(), settings.bootstrap_servers, rulebook.on_record, from_beginning=True)
app.service(follower)
