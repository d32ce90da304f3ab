"""Micro-benchmark of the pure person pass (not a test): microseconds per event of everything the ingest,
identity and person stages compute per event, without Kafka or Faust, broken down by part.

    /work/main/.venv/bin/python bench/person_micro.py [--runs 3] [--only long-tail] [--setting off] [--profile]
    /work/main/.venv/bin/python bench/person_micro.py --against /path/to/other/checkout [--runs 3]

Workloads (bench/workloads.py): ``pipeline``, ``generate()`` as bench/pipeline.py preloads it (60,000 events
of 5,000 persons, all received at one moment), and ``long-tail``, ``longtail()`` with 60,000 events of
40,000 persons (Zipf-like activity: most persons send 1-3 events, a few hundreds), received live, as they
happen. Each runs with the rules off (an empty RuleSet) and with the 50 rules bench/pipeline.py enables
(``rule_documents(50)``, in a Knowledge built as app/rulebook.py builds it from the default settings).

Every event is replayed in-process, as the stages handle it (one item per bundle; tables are plain dicts):

    Segment message bytes ─▶ inspect_record + normalize (agents/ingest.py _event_of)         "normalize"
      ─▶ bundle item, JSON out and back (each hop: BundleWriter.add, bundles.unpack), source_of "bundle"
      ─▶ check_item (identity stage, then person stage)                                         "check_item"
      ─▶ dedup, rate meter, identities (agents/identity.py _resolve)                           "dedup/identity"
      ─▶ person.on_event: behaviour (sessions, windows, profile, caps), less what follows       "behaviour"
           rules (RuleSet.evaluate, less the views below; decisions encoded as JSON)            "rules"
           the views the rules read (behaviour.rules_view, intent, affinities, session view)   "rule views"
           interaction_record                                                                   "interaction"
      ─▶ the person's state: orjson.loads before, orjson.dumps after (the table codec)         "state json"
      ─▶ behaviour.next_due (the timer index)                                                   "next_due"
      ─▶ trending: the partition's partial, updated in place (trending.add_to_partial; a
         checkout without it: apply_to_partial, which copies the partial)                      "trending"
      ─▶ history items (bundle JSON) and the links / merges an event causes (identity and
         person stages: link, merge_into, absorb, unlink)                                        "history+links"

Prints, per workload and rules setting, the median over ``--runs`` runs of each part's microseconds per
event (timed on the wall clock, scaled by the run's CPU / wall time: the CPU time of each part on a shared
machine), the total (CPU time and wall clock), the stored state's JSON bytes per person, and a digest of
everything stored and sent (profiles, identities, dedup marks, decisions, history, trending, timers): two
versions of the code that behave alike print the same digest. ``--against CHECKOUT`` runs the same cases
with another checkout's code (e.g. ``git worktree add /tmp/before HEAD``, then copy this bench/ into it),
alternating one process per run, and prints both, their ratio and whether the digests agree.
``--profile``: cProfile of one run of each workload, top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import importlib.util
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections import Counter, deque
from datetime import datetime, timezone
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's tastemaker
sys.path.insert(0, str(HERE))  # bench/pipeline.py and rules_micro.py

import workloads  # noqa: E402
from pipeline import START, generate, rule_documents  # noqa: E402

from tastemaker import behaviour, bundles, dedup, trending  # noqa: E402
from tastemaker import person as persons  # noqa: E402
from tastemaker.behaviour import Knowledge  # noqa: E402
from tastemaker.delivery import SourcePosition  # noqa: E402
from tastemaker.identity import RateMeter, on_link, person_of  # noqa: E402
from tastemaker.ingest.collect import inspect_record  # noqa: E402
from tastemaker.ingest.event_time import parse_iso  # noqa: E402
from tastemaker.ingest.normalize import normalize  # noqa: E402
from tastemaker.ingest.segment_schema import Invalid  # noqa: E402
from tastemaker.page_types import PageTypes  # noqa: E402
from tastemaker.partitioning import partition_for  # noqa: E402
from tastemaker.rules import FatigueConfig, RuleSet, parse_rule  # noqa: E402
from tastemaker.sessions import SessionConfig  # noqa: E402
from tastemaker.windows import WindowConfig  # noqa: E402


def _settings():
    """app/settings.py's defaults, read without importing the app (which declares the Faust app)."""
    spec = importlib.util.spec_from_file_location("_bench_settings", HERE.parent / "app" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.Settings()


SETTINGS = _settings()
LIMITS = SETTINGS.limits  # agents/ingest.py reads it once
PARTITIONS = 8
PARTS = ("normalize", "bundle", "check_item", "dedup/identity", "behaviour", "rules", "rule views", "interaction",
         "state json", "next_due", "trending", "history+links")


def knowledge_with(documents: list[dict]) -> Knowledge:
    """As app/rulebook.py: configured_knowledge(), then each rule document as the rules topic delivers it."""
    page_types = PageTypes.from_spec(SETTINGS.page_types)
    rules = RuleSet(fatigue=FatigueConfig(SETTINGS.fatigue_per_session, SETTINGS.fatigue_per_day))
    for document in documents:
        rule = parse_rule(orjson.loads(orjson.dumps(document)))
        rules = rules.without(rule.id).with_rule(rule)
    return Knowledge(rules=rules,
                     sessions=SessionConfig(idle_timeout=SETTINGS.session_idle, close_grace=SETTINGS.session_close_grace,
                                            page_types=page_types),
                     windows=WindowConfig(grace=SETTINGS.late_grace), page_types=page_types)


# --- workloads: (topic, key, Segment message, Kafka record time) ------------------------------------------

PRELOADED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc).timestamp()  # as if preloaded then


def pipeline_workload(events: int, persons: int) -> list[tuple[str, str, dict, float]]:
    """bench/pipeline.py's events, every record written at one moment (its preload)."""
    return [(topic, key, message, PRELOADED_AT) for topic, key, message in generate(events, persons)]


def long_tail(events: int, persons: int) -> list[tuple[str, str, dict, float]]:
    """bench/workloads.py's ``longtail`` (Zipf-like activity: most persons send 1-3 events, a few hundreds;
    in event-time order), received live: each record's time is its event's time plus half a second (a
    preload would receive a busy person's hundreds of events within a minute: the rate meter's bots)."""
    return [(topic, key, message, parse_iso(message["timestamp"]).timestamp() + 0.5)
            for topic, key, message in workloads.longtail(events, persons, start=START)]


# --- the replay ---------------------------------------------------------------------------------------------


class Replay:
    """The three stages' pure work on plain dicts; ``spent`` holds nanoseconds per part."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.spent: Counter[str] = Counter()
        self.seen: dict[str, dict] = {}
        self.identities: dict[str, dict] = {}
        self.profiles: dict[str, bytes] = {}  # person -> the stored JSON
        self.timers: dict[str, float | None] = {}
        self.partials: dict[int, dict] = {}
        self.decisions: list[bytes] = []
        self.history: list[bytes] = []
        self.outcomes: Counter[str] = Counter()
        self.rates = RateMeter(SETTINGS.bot_events_per_minute)
        self.offsets: Counter[tuple[str, int]] = Counter()
        self._inner = 0  # ns spent in timed parts nested inside person.on_event

    def _position(self, topic: str, key: str, via: str = "") -> SourcePosition:
        """The item's position in a bundle of its own (agents: bundles.position_in_bundle)."""
        partition = partition_for(key.encode(), PARTITIONS)
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        return bundles.position_in_bundle(topic, partition, offset, 0, via)

    def event(self, topic: str, key: str, raw: bytes, record_time: float) -> None:
        clock, spent = time.perf_counter_ns, self.spent
        partition = partition_for(key.encode(), PARTITIONS)
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        source = SourcePosition(topic, partition, offset)
        now = record_time + 1.0

        t0 = clock()
        checked = inspect_record(raw)
        if not isinstance(checked, Invalid):
            checked = normalize(checked, topic=topic, record_time=record_time, fallback_id=source.encode().decode(),
                                limits=LIMITS, now=now)
        t1 = clock()
        spent["normalize"] += t1 - t0
        if isinstance(checked, Invalid):
            self.outcomes["dead_letter"] += 1
            return
        entry = orjson.loads(orjson.dumps(bundles.item(checked["key"], checked, source)))
        t2 = clock()
        spent["bundle"] += t2 - t1
        self.identity_item(entry, self._position("events_by_id", entry["key"]), record_time, now)

    # identity stage (agents/identity.py _resolve)
    def identity_item(self, entry: dict, here: SourcePosition, at: float, now: float) -> None:
        clock, spent = time.perf_counter_ns, self.spent
        t0 = clock()
        bundles.check_item(entry, now)
        t1 = clock()
        spent["check_item"] += t1 - t0
        raw_id, body = entry["key"], entry["body"]
        kind = body.get("kind", "event")
        if kind != "event":
            self._identity_command(raw_id, body, here, now)
            spent["history+links"] += clock() - t1
            return
        source = bundles.source_of(entry) or here
        source = SourcePosition(source.topic, source.partition, source.offset, raw_id)
        key = dedup.dedup_key({"source": body.get("source"), "messageId": body.get("event_id")})
        if key is not None:
            verdict = dedup.classify(self.seen.get(key), source, at, SETTINGS.dedup_window)
            if verdict is dedup.Verdict.DUPLICATE:
                self.outcomes["duplicate"] += 1
                spent["dedup/identity"] += clock() - t1
                return
            if verdict is dedup.Verdict.NEW:
                self.seen[key] = dedup.mark(source, at)
        if self.rates.too_fast(raw_id, body.get("received_at") or at) and not body.get("is_bot"):
            body["is_bot"], body["bot_reason"] = True, "rate"
        body["person"] = person = person_of(self.identities.get(raw_id), raw_id)
        t2 = clock()
        spent["dedup/identity"] += t2 - t1
        item = orjson.loads(orjson.dumps(bundles.item(person, body, source)))
        t3 = clock()
        spent["bundle"] += t3 - t2
        self.person_item(item, now)

    def _identity_command(self, raw_id: str, body: dict, here: SourcePosition, now: float) -> None:
        kind = body["kind"]
        if kind == "link":
            step = on_link(self.identities.get(raw_id), raw_id, str(body["person"]))
            if step.state is not None:
                self.identities[raw_id] = step.state
            for key, command in step.commands:
                self.pending.append(("person", orjson.loads(orjson.dumps(
                    bundles.item(key, command, SourcePosition(here.topic, here.partition, here.offset, raw_id))))))
            if step.outcome:
                self.outcomes[step.outcome] += 1
        else:
            raise ValueError(f"kind {kind!r} not replayed here")

    # person stage (agents/person.py update_persons, one item per bundle)
    def person_item(self, entry: dict, now: float) -> None:
        clock, spent = time.perf_counter_ns, self.spent
        t0 = clock()
        bundles.check_item(entry, now)
        t1 = clock()
        spent["check_item"] += t1 - t0
        person = str(entry["key"])
        body = entry["body"]
        here = self._position("events_by_person", person, person)  # the bundle's position (no part)
        t1 = clock()
        source = bundles.source_of(entry) or here
        t2 = clock()
        spent["bundle"] += t2 - t1
        stored = self.profiles.get(person)
        state = None if stored is None else orjson.loads(stored)
        t1 = clock()
        spent["state json"] += t1 - t2
        t2 = t1
        kind = body.get("kind", "event")
        self._inner = 0
        step = self._step(state, person, body, source, here)
        t3 = clock()
        spent["behaviour" if kind == "event" else "history+links"] += t3 - t2 - self._inner
        for decision in step.decisions:
            self.decisions.append(orjson.dumps(decision))
        t4 = clock()
        spent["rules"] += t4 - t3
        if step.delete:
            self.profiles.pop(person, None)
            self.timers[person] = None
        elif step.state is not None:
            self.profiles[person] = orjson.dumps(step.state)
            t5 = clock()
            spent["state json"] += t5 - t4
            self.timers[person] = behaviour.next_due(step.state, self.knowledge)
            t4 = clock()
            spent["next_due"] += t4 - t5
        if "applied" in step.outcomes and kind == "event":
            partition = partition_for(person.encode(), PARTITIONS)
            if IN_PLACE_TRENDING:  # the agent's own partial, updated in place (stored as a copy once a second)
                trending.add_to_partial(self.partials.setdefault(partition, {}), body)
            else:
                updated = trending.apply_to_partial(self.partials.get(partition), body)
                if updated is not None:
                    self.partials[partition] = updated
            t5 = clock()
            spent["trending"] += t5 - t4
            t4 = t5
        for key, record in step.history:
            self.history.append(orjson.dumps(bundles.item(key, record)))
        for send in step.sends:
            item = orjson.loads(orjson.dumps(bundles.item(send.key, send.value, send.source)))
            self.pending.append(("identity" if send.to == persons.BY_ID else "person", item))
        self.outcomes.update(step.outcomes)
        spent["history+links"] += clock() - t4

    def _step(self, state, person: str, body: dict, source: SourcePosition, here: SourcePosition) -> persons.Step:
        kind = body.get("kind", "event")
        if kind == "event":
            return persons.on_event(state, person, body, source, here, SETTINGS.max_ids_per_person, self.knowledge,
                                    EMITTED_AT)
        if kind == "merge_into":
            return persons.on_merge_into(state, person, str(body["target"]), here)
        if kind == "absorb":
            return persons.on_absorb(state, person, body, source)
        if kind == "unlink":
            return persons.on_unlink(state, person, str(body["id"]))
        raise ValueError(f"kind {kind!r} not replayed here")

    def run(self, workload: list[tuple[str, str, bytes, float]]) -> None:
        self.pending: deque = deque()
        for topic, key, raw, record_time in workload:
            self.event(topic, key, raw, record_time)
            while self.pending:  # what the event caused: links, merges (each in its stage)
                stage, item = self.pending.popleft()
                now = record_time + 1.0
                if stage == "identity":
                    self.identity_item(item, self._position("events_by_id", item["key"]), record_time, now)
                else:
                    self.person_item(item, now)

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=10)
        for name, value in (("profiles", sorted((k, v.decode()) for k, v in self.profiles.items())), ("identities", sorted(self.identities.items())),
                            ("seen", sorted(self.seen.items())), ("timers", sorted(self.timers.items())),
                            ("trending", sorted((p, v) for p, v in self.partials.items() if v)), ("outcomes", sorted(self.outcomes.items()))):
            h.update(name.encode())
            h.update(orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
        for record in self.decisions + self.history:
            h.update(record)
        return h.hexdigest()


IN_PLACE_TRENDING = hasattr(trending, "add_to_partial")  # older code: only the copying apply_to_partial
EMITTED_AT = PRELOADED_AT + 3600.0  # decisions' emitted_at: fixed, so that digests compare


class Timed:
    """Wraps a function so the nanoseconds it takes are charged to ``part`` (and not to behaviour)."""

    def __init__(self, replay_ref: list, part: str, fn) -> None:
        self.ref, self.part, self.fn = replay_ref, part, fn

    def __call__(self, *args, **kwargs):
        started = time.perf_counter_ns()
        try:
            return self.fn(*args, **kwargs)
        finally:
            spent = time.perf_counter_ns() - started
            replay = self.ref[0]
            if replay is not None:
                replay.spent[self.part] += spent
                replay._inner += spent


CURRENT: list = [None]


def instrument() -> None:
    """Charge the rules, the views they read and the interaction record to their own parts. The views are
    called inside RuleSet.evaluate, so "rules" is evaluate's time less theirs."""
    from tastemaker.rules import ruleset as ruleset_module

    evaluate = ruleset_module.RuleSet.evaluate

    def timed_evaluate(self, *args, **kwargs):
        replay = CURRENT[0]
        started = time.perf_counter_ns()
        before = replay.spent["rule views"]
        try:
            return evaluate(self, *args, **kwargs)
        finally:
            spent = time.perf_counter_ns() - started
            views = replay.spent["rule views"] - before
            replay.spent["rules"] += spent - views
            replay._inner += spent - views  # the views add themselves to _inner

    ruleset_module.RuleSet.evaluate = timed_evaluate
    behaviour.rules_view = Timed(CURRENT, "rule views", behaviour.rules_view)
    behaviour._session_view = Timed(CURRENT, "rule views", behaviour._session_view)
    behaviour._open_session = Timed(CURRENT, "rule views", behaviour._open_session)
    persons.interaction_record = Timed(CURRENT, "interaction", persons.interaction_record)


def encoded(workload) -> list[tuple[str, str, bytes, float]]:
    return [(topic, key, orjson.dumps(message), at) for topic, key, message, at in workload]


def one_run(workload, knowledge: Knowledge) -> dict:
    """One replay of ``workload``: per part and in all, microseconds per event (wall clock), the CPU time
    of the whole run per event, stored sizes and the digest."""
    replay = Replay(knowledge)
    CURRENT[0] = replay
    started, cpu = time.perf_counter(), time.process_time()
    replay.run(workload)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    events = len(workload)
    sizes = [len(v) for v in replay.profiles.values()]
    # Parts are timed on the wall clock, which also counts the time the process waited for a CPU (a shared
    # machine); scaled by the run's CPU / wall, they add up to its CPU time.
    scale = cpu / wall
    return {"parts": {part: replay.spent[part] / events / 1000 * scale for part in PARTS}, "wall": wall / events * 1e6,
            "cpu": cpu / events * 1e6, "events": events, "persons": len(replay.profiles),
            "state_mean": statistics.fmean(sizes), "state_median": statistics.median(sizes), "state_max": max(sizes),
            "applied": replay.outcomes["applied"], "decisions": len(replay.decisions), "history": len(replay.history),
            "digest": replay.digest()}


def median_of(runs: list[dict]) -> dict:
    return {"parts": {part: statistics.median(r["parts"][part] for r in runs) for part in PARTS},
            **{k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu")},
            **{k: runs[-1][k] for k in runs[-1] if k not in ("parts", "wall", "cpu", "digest")},
            "digests": sorted({r["digest"] for r in runs}), "runs": [round(r["cpu"], 1) for r in runs]}


def outside_rules(result: dict) -> float:
    return sum(v for k, v in result["parts"].items() if k not in ("rules", "rule views"))


def report(name: str, result: dict, baseline: dict | None = None) -> None:
    """One case; with ``baseline`` (the same case run by the --against checkout), side by side."""
    n = len(result["runs"])
    print(f"\n{name}: {result['events']:,} events, {result['persons']:,} stored persons, median of {n} runs"
          + (" (baseline | this checkout | ratio)" if baseline else ""))

    def row(label: str, value: float, old: float | None, unit: str = "us/event") -> None:
        if old is None:
            print(f"  {label:<22} {value:9.1f} {unit}")
        else:
            print(f"  {label:<22} {old:9.1f} | {value:9.1f} {unit}   {old / value if value else float('inf'):5.2f}x")

    for part in PARTS:
        row(part, result["parts"][part], baseline and baseline["parts"][part])
    row("sum of parts", sum(result["parts"].values()), baseline and sum(baseline["parts"].values()))
    row("  outside rules+views", outside_rules(result), baseline and outside_rules(baseline))
    row("wall total", result["wall"], baseline and baseline["wall"])
    row("CPU total", result["cpu"], baseline and baseline["cpu"])
    print(f"  CPU per run (us/event): {result['runs']}" + (f"; baseline {baseline['runs']}" if baseline else ""))
    for label, key in (("state JSON mean", "state_mean"), ("state JSON median", "state_median"),
                       ("state JSON max", "state_max")):
        row(label, result[key], baseline and baseline[key], "bytes/person")
    print(f"  applied {result['applied']:,}, decisions {result['decisions']:,}, history {result['history']:,}; "
          f"digest {' '.join(result['digests'])}" + ("" if len(result["digests"]) == 1 else "  (RUNS DIFFER)"))
    if baseline:
        same = baseline["digests"] == result["digests"]
        print(f"  baseline digest {' '.join(baseline['digests'])}: "
              f"{'the same stored state, decisions and history' if same else 'DIFFERENT'}")


def profile(name: str, workload, knowledge: Knowledge, top: int) -> None:
    profiler = cProfile.Profile()
    CURRENT[0] = Replay(knowledge)
    profiler.enable()
    CURRENT[0].run(workload)
    profiler.disable()
    print(f"\ncProfile, {name} (one run; tottime = time in the function itself):")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)


def run_in(checkout: Path, workload: str, setting: str, args) -> dict:
    """One run of one case by ``checkout``'s code (this script, run from there), as JSON."""
    command = [sys.executable, str(checkout / "bench" / "person_micro.py"), "--emit", "--runs", "1", "--only", workload,
               "--setting", setting, "--events", str(args.events), "--persons", str(args.persons),
               "--long-tail-persons", str(args.long_tail_persons), "--rules", str(args.rules)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {done.stderr[-2000:]}")
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":  # generate() draws categories with hash(): the same every run
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--persons", type=int, default=5_000, help="of the pipeline workload")
    parser.add_argument("--long-tail-persons", type=int, default=40_000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--only", choices=WORKLOADS, help="one workload only")
    parser.add_argument("--setting", choices=("off", "on"), help="rules off or on only (default: both)")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT",
                        help="a checkout (e.g. a git worktree of the previous commit) to measure alike, runs "
                             "alternating, one process per run: its numbers, ours, and the ratio")
    parser.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)  # one JSON line (for --against)
    parser.add_argument("--profile", action="store_true", help="cProfile one run of each workload (rules off)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    cases = [(w, s) for w in WORKLOADS if args.only in (None, w) for s in ("off", "on") if args.setting in (None, s)]
    if args.against:
        print(f"python {sys.version.split()[0]}; {args.runs} runs per case, one process each, alternating with "
              f"{args.against}")
        for workload, setting in cases:
            ours, theirs = [], []
            for _ in range(args.runs):
                theirs.append(run_in(args.against, workload, setting, args))
                ours.append(run_in(HERE.parent, workload, setting, args))
            report(f"{workload}, {_label(setting, args)}", median_of(ours), median_of(theirs))
        return

    instrument()
    made: dict[str, list] = {}
    knowledge = {"off": knowledge_with([])}
    if any(s == "on" for _, s in cases):
        knowledge["on"] = knowledge_with(rule_documents(args.rules))
    if not args.emit:
        print(f"python {sys.version.split()[0]}; {args.runs} runs per case")
    for workload, setting in cases:
        if workload not in made:
            made[workload] = encoded(WORKLOADS[workload](args))
            one_run(made[workload][:2000], knowledge["off"])  # warm-up: caches, imports
        runs = [one_run(made[workload], knowledge[setting]) for _ in range(args.runs)]
        if args.emit:
            print(orjson.dumps(runs[0]).decode())
            continue
        report(f"{workload}, {_label(setting, args)}", median_of(runs))
        if args.profile and setting == "off":
            profile(f"{workload}, rules off", made[workload], knowledge["off"], args.top)
    CURRENT[0] = None


WORKLOADS = {"pipeline": lambda args: pipeline_workload(args.events, args.persons),
             "long-tail": lambda args: long_tail(args.events, args.long_tail_persons)}


def _label(setting: str, args) -> str:
    return "rules off" if setting == "off" else f"{args.rules} rules"


if __name__ == "__main__":
    main()
