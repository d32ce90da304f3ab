"""``make bench-peers``: the stream core next to its peers, in one run: same broker, same preloaded events.

Every repetition preloads the same events (``--workload``, bench/workloads.py: ``longtail`` by default,
100,000 events of ~60,000 persons; or ``default``, bench/pipeline.py's) into fresh input topics (8 partitions,
keyed by the id each event was sent under) for each runner, then starts the runners one at a time, each a
process of its own with a consumer group of its own, on the same port:

    floor               bench/baseline_floor.py: a plain aiokafka consumer that decodes each record (orjson)
    faust-table         bench/baseline_faust.py, BASELINE_WRITES=1: a bare Faust agent, one table write per
                        event (per-person count, RocksDB store through rocksdict, changelog)
    quix-sliding        bench/baseline_quix.py: Quix Streams, a dict per person in its RocksDB state and the
                        exact 10-minute sliding count per person, changelogs on
    tastemaker-reduced  ``faust -A app worker`` with TASTEMAKER_ROLES=stream and no rules: ingest, identity and
                        the person stage's sessions, windows and profile
    tastemaker-full     the same with ``--rules`` rules (50: bench/pipeline.py's ``rule_documents``)
    faust-decode        (only when named in ``--runners``) bench/baseline_faust.py: a Faust agent that only
                        decodes

Each runner is timed from its first processed event to its last, with the CPU time of its process over the
same span: the runners of bench/ time themselves (``EventClock``, bench/common.py), Tastemaker's worker is
polled (``/stats/ingest``) with its CPU time read from /proc (``timed_run``). Every runner must account for
every event: the floor and Faust count them, Quix counts what it finished and the sliding window's late
refusals (which must be none), Tastemaker's outcomes must add up (applied + bot + duplicate + dead-lettered).
Tastemaker's bot meter counts an id's events per minute of receive time (the record time), and a preload's
records are received 1 ms apart (bench/common.py ``preload``), a busy person's hundreds within a minute or
two: the runs raise TASTEMAKER_BOT_EVENTS_PER_MINUTE so every event goes the whole way, as in the peers.

Prints the medians of ``--runs`` repetitions (BENCH_RUNS, default 3) as one table, with ratios to the floor,
the bare Faust agent and the Quix peer measured in the same run, and the stream core's goals read against them
(Tastemaker full >= 1.0x the bare Faust agent; reduced >= 0.5x the Quix sliding peer). Writes every
repetition, the machine, the versions and the date to ``bench/results/peers-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import time
import uuid

from common import (FAUST, INPUTS, PYTHON, REPO, bootstrap_of, delete_topics_of, machine, medians_of, now_utc,
                    preload, runner_progress, say, start_kafka, stop_kafka, tastemaker_progress, timed_run, versions,
                    worker_env)
from pipeline import rule_documents
from workloads import add_workload_arguments, describe, workload

RUNNERS = ("floor", "faust-table", "quix-sliding", "tastemaker-reduced", "tastemaker-full")
OPTIONAL = ("faust-decode",)
# The columns of ratios: (heading, the runner it divides by).
REFERENCES = (("x floor", "floor"), ("x bare Faust", "faust-table"), ("x Quix sliding", "quix-sliding"))
# The stream core's goals: (runner, reference, at least this ratio of events/s).
GOALS = (("tastemaker-full", "faust-table", 1.0), ("tastemaker-reduced", "quix-sliding", 0.5))
BASELINE_SCRIPTS = {"floor": "baseline_floor.py", "faust-table": "baseline_faust.py",
                    "faust-decode": "baseline_faust.py", "quix-sliding": "baseline_quix.py"}


def command_of(name: str, broker: str, app_id: str, port: int, partitions: int, expected: int, data_dir) -> tuple:
    """(command, environment, progress reader) of runner ``name`` reading the topics ``<app_id>.<input>``."""
    if name.startswith("tastemaker"):
        env = worker_env(broker, app_id, port, data_dir, TASTEMAKER_ROLES="stream",
                         TASTEMAKER_PARTITIONS=str(partitions), TASTEMAKER_BOT_EVENTS_PER_MINUTE="1000000")
        return [FAUST, "-A", "app", "worker", "-l", "info"], env, tastemaker_progress
    cmd = [PYTHON, str(REPO / "bench" / BASELINE_SCRIPTS[name])]
    if name.startswith("faust"):
        cmd += ["worker", "-l", "info"]
    env = {**os.environ, "BASELINE_BROKER": broker, "BASELINE_APP_ID": app_id, "BASELINE_PORT": str(port),
           "BASELINE_PARTITIONS": str(partitions), "BASELINE_EXPECTED": str(expected),
           "BASELINE_DATA_DIR": str(data_dir), "BASELINE_WRITES": "1" if name == "faust-table" else "0",
           "BASELINE_TOPICS": ",".join(f"{app_id}.{t}" for t in INPUTS)}
    return cmd, env, runner_progress


def check_of(name: str, repetitions: list[dict]) -> tuple[bool, str]:
    """Whether every repetition of ``name`` accounted for every event, and how it did (the last one's)."""
    ok = all(r["processed"] >= r["expected"] for r in repetitions)
    last = repetitions[-1]
    text = f"{last['processed']:,}/{last['expected']:,}"
    if "late" in last:
        ok = ok and all(r["late"] == 0 for r in repetitions)
        text += f", {last['late']} refused as late by the window"
    if "outcomes" in last:
        text += ", " + ", ".join(f"{k} {n:,}" for k, n in last["outcomes"].items())
    return ok, text


def ratio(medians: dict, name: str, reference: str) -> float | None:
    if reference not in medians or not medians[reference]["events_per_s"]:
        return None
    return medians[name]["events_per_s"] / medians[reference]["events_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    add_workload_arguments(parser, "longtail")
    parser.add_argument("--rules", type=int, default=int(os.environ.get("BENCH_RULES", 50)),
                        help="rules of tastemaker-full")
    parser.add_argument("--runners", default=os.environ.get("BENCH_RUNNERS", ",".join(RUNNERS)),
                        help=f"comma-separated, in order, of {', '.join(RUNNERS + OPTIONAL)}")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one runner may take")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PEERS_PORT", 16076)))
    parser.add_argument("--profile", default="", metavar="RUNNERS",
                        help="comma-separated runners to sample with py-spy from their first event to their last "
                             "(bench/results/peers-profile-<runner>-<time>.txt; bench/profile_summary.py sums them)")
    args = parser.parse_args()
    runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    if unknown := set(runners) - set(RUNNERS + OPTIONAL):
        raise SystemExit(f"--runners: no runner {', '.join(sorted(unknown))}")

    run_dir = REPO / ".run/bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    broker, started_kafka = start_kafka()
    bootstrap = bootstrap_of(broker)
    url = f"http://127.0.0.1:{args.port}"
    events = workload(args.workload, args.events, args.persons)
    shape = describe(events)
    say(f"workload {args.workload}: {shape}")
    rules = rule_documents(args.rules)
    results = {"date": now_utc(), "machine": machine(),
               "versions": {**versions("faust-streaming", "aiokafka", "quixstreams", "confluent-kafka", "rocksdict",
                                       "orjson"), "librdkafka": _librdkafka(), "kafka": _kafka_version()},
               "broker": broker, "args": vars(args), "workload": shape, "runners": {name: [] for name in runners}}
    try:
        for i in range(args.runs):
            say(f"repetition {i + 1}/{args.runs}")
            for name in runners:
                app_id = f"bench-{uuid.uuid4().hex[:8]}"
                data_dir = run_dir / "peers" / app_id
                asyncio.run(preload(bootstrap, f"{app_id}.", events, args.partitions,
                                    rules if name == "tastemaker-full" else []))
                cmd, env, progress = command_of(name, broker, app_id, args.port, args.partitions, len(events),
                                                data_dir)
                profile_to = None
                if name in args.profile.split(","):
                    profile_to = REPO / f"bench/results/peers-profile-{name}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
                try:
                    results["runners"][name].append(timed_run(name, cmd, env, len(events), url, progress,
                                                              run_dir / f"peers-{name}.log", args.timeout,
                                                              profile_to))
                finally:
                    delete_topics_of(bootstrap, app_id)
                    shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        if started_kafka:
            stop_kafka()

    medians = {name: medians_of(reps) for name, reps in results["runners"].items()}
    results["medians"] = medians
    results["ratios"] = {name: {ref: ratio(medians, name, ref) for _, ref in REFERENCES} for name in medians}
    results["goals"] = [{"runner": name, "reference": ref, "at_least": goal, "ratio": ratio(medians, name, ref)}
                        for name, ref, goal in GOALS if name in medians and ref in medians]
    out_dir = REPO / "bench/results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"peers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))

    print(f"\nmedians of {args.runs} runs; workload {args.workload}: {shape}; {args.partitions} partitions; "
          f"tastemaker-full: {args.rules} rules; {os.cpu_count()} CPUs")
    print(f"{'runner':<20} {'events/s':>10} " + " ".join(f"{h:>14}" for h, _ in REFERENCES) + f" {'CPU us/event':>13}")
    for name, m in medians.items():
        cells = []
        for _, ref in REFERENCES:
            r = ratio(medians, name, ref)
            cells.append(f"{'-' if r is None else f'{r:.3f}':>14}")
        print(f"{name:<20} {m['events_per_s']:>10,.0f} " + " ".join(cells) + f" {m['cpu_us_per_event']:>13,.1f}")
    complete = True
    for name, reps in results["runners"].items():
        ok, text = check_of(name, reps)
        complete = complete and ok
        print(f"every event accounted for by {name}: {'yes' if ok else 'NO'} ({text})")
    for goal in results["goals"]:
        met = goal["ratio"] is not None and goal["ratio"] >= goal["at_least"]
        print(f"goal: {goal['runner']} >= {goal['at_least']}x {goal['reference']}: "
              f"{goal['ratio']:.3f}x, {'met' if met else 'not met'}")
    print(f"results: {out.relative_to(REPO)}")
    if not complete:
        raise SystemExit(1)


def _librdkafka() -> str | None:
    try:
        import confluent_kafka
    except ImportError:
        return None
    return confluent_kafka.libversion()[0]


def _kafka_version() -> str:
    """The Apache Kafka version infra/kafka pins (the broker `make kafka-start` and the tests run)."""
    pom = (REPO / "infra/kafka/pom.xml").read_text()
    return pom.split("<kafka.version>", 1)[1].split("</kafka.version>", 1)[0]


if __name__ == "__main__":
    main()
