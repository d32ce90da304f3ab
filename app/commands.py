"""Operator commands: ``faust -A app <command>``."""

from __future__ import annotations

import json
from pathlib import Path

import click
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.cli import argument, option

from app.kafka_admin import ensure_topics, topic_specs
from app.main import app, settings
from app.topics import rules as rules_topic
from app.topic_follower import partitions_of, reached

RULES_TOPIC = rules_topic.get_topic_name()


@app.command()
async def create_topics(self) -> None:
    """Create every Tastemaker topic with its partition count (existing ones are checked, not changed)."""
    specs = topic_specs(app)
    created = await ensure_topics(settings.bootstrap_servers, specs)
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        self.say(f"{state:8} {spec.name} ({spec.partitions} partitions, replication {spec.replication})")


RULES_ACTIONS = ("validate", "apply", "list", "enable", "disable", "delete", "backtest")


@app.command(
    argument("action", type=click.Choice(RULES_ACTIONS)),
    argument("targets", nargs=-1),
    option("--events", type=click.Path(exists=True, dir_okay=False, path_type=Path),
           help="backtest: recorded events, JSON lines (Segment messages, or OTTO sessions)"),
    option("--json", "as_json", is_flag=True, help="backtest: the report as JSON"),
)
async def rules(self, action: str, targets: tuple[str, ...], events: Path | None, as_json: bool) -> None:
    """Rules: validate FILE.., apply FILE.., list, enable ID, disable ID, delete ID, backtest FILE.. --events F.

    FILE may be a YAML/JSON file (several YAML documents allowed) or a directory of them. Changes go to the
    rules topic that every worker follows; validate and backtest touch nothing.
    """
    from tastemaker.rules import RuleError
    from tastemaker.rules.changes import load_documents, plan_apply, plan_delete, plan_enabled

    try:
        if action in ("validate", "apply", "backtest"):
            if not targets:
                raise click.UsageError(f"rules {action} needs one or more rule files or directories")
            documents = [doc for target in targets for doc in _documents(load_documents, Path(target))]
        if action == "validate":
            for where, document in documents:
                change = plan_apply({}, document)
                self.say(f"valid    {change.rule_id} (version {change.document['version']})  {where}")
            return
        if action == "backtest":
            await _backtest(self, documents, events, as_json)
            return
        current = await rules_in_force()
        if action == "list":
            for rule_id in sorted(current):
                doc = current[rule_id]
                state = "enabled " if doc.get("enabled", True) else "disabled"
                self.say(f"{rule_id:<32} v{doc['version']:<4} {state} priority {doc.get('priority', 0):<5} {doc['description']}")
            return
        if action == "apply":
            changes = []
            for where, document in documents:
                change = plan_apply(current, document)
                current[change.rule_id] = change.document
                changes.append(change)
        else:
            if not targets:
                raise click.UsageError(f"rules {action} needs one or more rule ids")
            plan = {"enable": lambda c, i: plan_enabled(c, i, True), "disable": lambda c, i: plan_enabled(c, i, False),
                    "delete": plan_delete}[action]
            changes = [plan(current, rule_id) for rule_id in targets]
        await write_rule_changes([c for c in changes if c.writes])
        for change in changes:
            self.say(f"{change.note:<20} {change.rule_id}")
    except (RuleError, click.UsageError) as error:
        message = f"{error.field}: {error.reason}" if isinstance(error, RuleError) else error.format_message()
        self.say(f"refused: {message}", err=True)
        raise SystemExit(2) from None


def _documents(load, path: Path):
    from tastemaker.rules import RuleError

    if not path.exists():
        raise RuleError("document", f"{path}: no such file or directory")
    return list(load(path))


async def _backtest(self, documents, events: Path | None, as_json: bool) -> None:
    from dataclasses import replace

    from app.rulebook import configured_knowledge
    from tastemaker import backtest
    from tastemaker.rules import parse_rule

    if events is None:
        raise click.UsageError("rules backtest needs --events FILE")
    knowledge = configured_knowledge()
    rules_ = knowledge.rules
    for _, document in documents:
        rules_ = rules_.with_rule(parse_rule(document))
    report = backtest.run(backtest.read_messages(events), replace(knowledge, rules=rules_))
    if as_json:
        self.say(json.dumps(report.as_json(), indent=2))
    else:
        self.say(report.as_table(sorted(rules_.rules)))


async def rules_in_force() -> dict[str, dict]:
    """The rule documents on the rules topic now: the latest value of every key (tombstones delete)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(RULES_TOPIC, p) for p in sorted(await partitions_of(consumer, RULES_TOPIC))]
        if not partitions:
            return {}
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        documents: dict[str, dict] = {}
        while not await reached(consumer, end):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    key = record.key.decode()
                    if record.value is None:
                        documents.pop(key, None)
                    else:
                        documents[key] = orjson.loads(record.value)
        return documents
    finally:
        await consumer.stop()


async def write_rule_changes(changes) -> None:
    if not changes:
        return
    await ensure_topics(settings.bootstrap_servers, [s for s in topic_specs(app) if s.name == RULES_TOPIC])
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for change in changes:
            value = None if change.document is None else orjson.dumps(change.document)
            await producer.send_and_wait(RULES_TOPIC, value, key=change.rule_id.encode())
    finally:
        await producer.stop()
