"""Operator commands: ``faust -A app <command>`` (create-topics, rules, items, visitor-token, train).

The top of the app: ``app/__init__.py`` imports this module last and nothing else imports it. What the
commands share with the worker lives below them: topic creation in ``app.kafka_admin``, one-shot reads of
the rules and items topics in ``app.compacted_reads``, training in ``app.training``.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import orjson
from aiokafka import AIOKafkaProducer
from faust.cli import argument, option

from app.compacted_reads import latest_values
from app.kafka_admin import ensure_topics, topic_specs
from app.main import app, settings
from app.topics import items as items_topic
from app.topics import rules as rules_topic

RULES_TOPIC = rules_topic.get_topic_name()
ITEMS_TOPIC = items_topic.get_topic_name()


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
    """The rule documents on the rules topic now."""
    return {key: orjson.loads(value) for key, value in (await latest_values(RULES_TOPIC)).items()}


async def write_rule_changes(changes) -> None:
    await write_records(RULES_TOPIC, [
        (c.rule_id, None if c.document is None else orjson.dumps(c.document)) for c in changes])


async def write_records(topic: str, records: list[tuple[str, bytes | None]]) -> None:
    """Send (key, value) records in order (None: a tombstone) and return once Kafka has them all."""
    if not records:
        return
    await ensure_topics(settings.bootstrap_servers, [s for s in topic_specs(app) if s.name == topic])
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        # One partition, sent in order: the producer keeps them in order, and a bulk import does not wait
        # a round trip per item.
        sent = [await producer.send(topic, value, key=key.encode()) for key, value in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


ITEMS_ACTIONS = ("import", "validate", "delete")


@app.command(
    argument("action", type=click.Choice(ITEMS_ACTIONS)),
    argument("targets", nargs=-1),
    option("--format", "fmt", type=click.Choice(["jsonl", "csv"]),
           help="import/validate: the file's format (default: csv for *.csv, else JSON lines)"),
    option("--json", "as_json", is_flag=True, help="import/validate: the report as JSON"),
)
async def items(self, action: str, targets: tuple[str, ...], fmt: str | None, as_json: bool) -> None:
    """Items: import FILE, validate FILE, delete ID...

    FILE holds JSON lines (one item per line) or CSV (a header row naming the fields; attributes.<name>
    columns). Each refused line is reported with its number and the rest is imported; unchanged items are
    not written again. Exit status: 0 all done, 1 some lines refused, 2 the command refused as a whole.
    """
    from tastemaker.catalog import Catalog, FileError, ItemError, file_format, parse_item_json, read_items

    try:
        if action == "delete":
            if not targets:
                raise click.UsageError("items delete needs one or more item ids")
            current = await latest_values(ITEMS_TOPIC)
            for item_id in targets:
                if item_id not in current:
                    raise ItemError("item_id", f"no item {item_id!r}")
            await write_records(ITEMS_TOPIC, [(item_id, None) for item_id in dict.fromkeys(targets)])
            for item_id in dict.fromkeys(targets):
                self.say(f"deleted  {item_id}")
            return
        if len(targets) != 1:
            raise click.UsageError(f"items {action} needs one file")
        path = Path(targets[0])
        if not path.is_file():
            raise FileError(f"{path}: no such file")
        fmt = fmt or file_format(path.name)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        rows = list(read_items(text, fmt))
    except (ItemError, FileError, click.UsageError) as error:
        message = error.format_message() if isinstance(error, click.UsageError) else str(error)
        self.say(f"refused: {message}", err=True)
        raise SystemExit(2) from None

    refused = [(line, row) for line, row in rows if isinstance(row, ItemError)]
    valid = [row for _, row in rows if not isinstance(row, ItemError)]
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    if action == "import":
        catalog = Catalog()
        for item_id, value in (await latest_values(ITEMS_TOPIC)).items():
            try:
                catalog.upsert(parse_item_json(value, item_id=item_id))
            except ItemError:
                pass  # what the workers hold for it is nothing: the import writes it again
        writes = []
        for item in valid:
            change = catalog.upsert(item)
            counts[change] += 1
            if change != "unchanged":
                writes.append((item["item_id"], orjson.dumps(item)))
        await write_records(ITEMS_TOPIC, writes)
    report = {"file": str(path), "format": fmt, "action": action, "valid": len(valid),
              **(counts if action == "import" else {}),
              "refused": [{"line": line, "field": error.field, "reason": error.reason} for line, error in refused]}
    if as_json:
        self.say(json.dumps(report, indent=2))
    else:
        for line, error in refused:
            self.say(f"line {line}: {error}", err=True)
        done = (f"imported {len(valid)} items ({counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged)" if action == "import" else f"{len(valid)} valid items")
        self.say(f"{done}, {len(refused)} lines refused: {path}")
    if refused:
        raise SystemExit(1)


@app.command(
    argument("raw_id"),
    option("--ttl", type=int, default=3600, show_default=True,
           help="seconds the token is valid (at most TASTEMAKER_VISITOR_TOKEN_TTL_MAX)"),
)
async def visitor_token(self, raw_id: str, ttl: int) -> None:
    """Print a visitor token for one id (userId or anonymousId), signed with the first of
    TASTEMAKER_VISITOR_SECRETS: what a site's server issues to the visitor's page (tastemaker/access.py).

    Exit status 2 when visitor tokens are off or the lifetime is out of bounds.
    """
    from tastemaker.access import AccessError, visitor_token_for

    try:
        self.say(visitor_token_for(settings.access, raw_id, ttl))
    except AccessError as error:
        self.say(f"refused: {error}", err=True)
        raise SystemExit(2) from None


@app.command(
    option("--dry-run", is_flag=True, help="train and report, publish nothing"),
    option("--json", "as_json", is_flag=True, help="the report as JSON"),
    option("--person", "persons", multiple=True,
           help="also report how many records of this id the history holds and how many this run trained on "
                "(a forgotten or opted-out person: 0); repeatable"),
)
async def train(self, dry_run: bool, as_json: bool, persons: tuple[str, ...] = ()) -> None:
    """Train a recommendation model on the interaction history in Kafka (the last TASTEMAKER_TRAIN_WINDOW
    seconds) and the catalog; publish it to every worker if it is not worse than the serving one.

    Exit status: 0 promoted (or would be, with --dry-run), 1 not promoted, 2 nothing to train on.
    """
    # Imported here, not above: a collecting worker (TASTEMAKER_ROLES=collector) loads these commands too,
    # and not the recommender's training (numpy, scipy) it never runs.
    from app.training import read_serving, train_once
    from tastemaker.catalog import parse_item_json

    await ensure_topics(settings.bootstrap_servers, topic_specs(app))
    catalog_items = []
    for item_id, value in (await latest_values(ITEMS_TOPIC)).items():
        try:
            catalog_items.append(parse_item_json(value, item_id=item_id))
        except Exception:  # noqa: BLE001 - a record that is not an item is no item (as on the workers)
            continue
    report = await train_once(catalog_items, await read_serving(), publish_model=not dry_run, audit=persons)
    summary = report.to_dict()
    if as_json:
        self.say(json.dumps(summary, indent=2))
    else:
        self.say(f"model {summary['version']}: {summary['interactions']} interactions of {summary['persons']} "
                 f"persons, {summary['items']} items, {summary['holdout']} held-out cases, {summary['seconds']} s")
        history = summary["history"]
        self.say(f"  history             {history.get('read', 0)} records read, {history.get('hidden', 0)} hidden "
                 f"(forgotten or opted out), {history.get('duplicates', 0)} duplicates")
        for raw_id, counts in summary["audit"].items():
            self.say(f"  person {raw_id}: {counts['in_history']} records in the history, {counts['read']} trained on")
        for name in ("metrics", "serving_metrics", "popularity_metrics"):
            if summary[name]:
                self.say(f"  {name:<19} " + ", ".join(f"{k} {v:.4f}" for k, v in summary[name].items() if k != "cases"))
        verdict = "promoted" if report.promote and not dry_run else "would be promoted" if report.promote else "not promoted"
        self.say(f"{verdict}: {report.why}")
    if report.snapshot is None:
        raise SystemExit(2)
    if not report.promote:
        raise SystemExit(1)
