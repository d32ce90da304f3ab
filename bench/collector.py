"""``make bench``: the collector's throughput and latency on one worker, next to a baseline from the same run.

1. Kafka: ``TASTEMAKER_BROKER`` if set, else the local broker of ``infra/kafka/kafka.sh`` (``KAFKA_PORT``,
   default 9092), started and stopped here when it was not running.
2. Four servers on the same port, one at a time, each started fresh for every repetition:
   ``baseline-http`` (``bench/baseline_server.py``: plain aiohttp + orjson, no validation, no Kafka: the
   HTTP stack's ceiling), ``baseline-http+kafka`` (the same, producing every message raw with aiokafka),
   ``collector``: ``faust -A app worker -l info`` with ``TASTEMAKER_ROLES=collector`` (a collecting worker, as
   a deployment scales collection) and a fresh app id, topic prefix and write key, and ``collector+stream``:
   the all-in-one default, whose stream stages share the process with the collector.
   A fresh worker per repetition: otherwise each run would inherit the backlog the worker's own agents are
   still working off (they process far fewer events/s than the collector accepts) and measure that too.
3. Against each, once /health is 200, in a second process (``bench/collector_load.py``): an open-loop
   latency run of single ``/v1/track`` calls at ``--rate``/s, then a throughput run of ``/v1/batch``
   (``--batch`` events, ``--concurrency`` connections, closed loop).
4. The end offsets of the collector's input topics must equal the events it said it accepted.

Prints medians and ratios to the baseline, and writes every run to ``bench/results/collector-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common import PYTHON, REPO, cpu_seconds, say, start_kafka, stop, stop_kafka, wait_healthy
INPUT_TOPICS = ("clickstream", "purchase_events", "engagement_metrics", "identities")
WRITE_KEY = f"bench-{uuid.uuid4().hex}"  # never a real key: this run's worker only


def load(url: str, mode: str, args, env: dict) -> dict:
    cmd = [PYTHON, str(REPO / "bench/collector_load.py"), url, mode, "--seconds", str(args.seconds),
           "--batch", str(args.batch), "--concurrency", str(args.concurrency), "--rate", str(args.rate),
           "--write-key", WRITE_KEY]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def repetition(name: str, cmd: list[str], env: dict, args, log_path: Path) -> dict:
    """One fresh server: a latency run (which also warms it up: connections, topic metadata), then a
    throughput run. Fresh each time, so no run inherits the previous one's backlog in the worker's agents."""
    url = f"http://127.0.0.1:{args.port}"
    with open(log_path, "ab") as log:
        server = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        (log_path.parent / f"{name}.pid").write_text(str(server.pid))  # for py-spy
        wait_healthy(url, server)
        latency = load(url, "latency", args, env)
        cpu = cpu_seconds(server.pid)
        throughput = load(url, "throughput", args, env)
        # CPU time of the server per accepted event: far less disturbed by other work on a shared machine
        # than events/s, so it shows small improvements that throughput noise hides.
        cpu = cpu_seconds(server.pid) - cpu
        throughput["cpu_us_per_event"] = round(cpu / max(throughput["accepted"], 1) * 1e6, 1)
    finally:
        stop(server)
    say(f"  {name:<20} {throughput['events_per_s']:>7} events/s, {throughput['cpu_us_per_event']:>5} us CPU/event, track p50 {latency['p50_ms']} ms, "
        f"p99 {latency['p99_ms']} ms, errors {throughput['errors'] + latency['errors']}")
    return {"latency": latency, "throughput": throughput}


def medians(reps: list[dict]) -> dict:
    return {
        "events_per_s": statistics.median(r["throughput"]["events_per_s"] for r in reps),
        "cpu_us_per_event": statistics.median(r["throughput"]["cpu_us_per_event"] for r in reps),
        "p50_ms": statistics.median(r["latency"]["p50_ms"] for r in reps),
        "p99_ms": statistics.median(r["latency"]["p99_ms"] for r in reps),
    }


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def stored(bootstrap: str, topics: list[str]) -> int:
    """Records in the topics: the sum of their partitions' end offsets (fresh topics start at 0)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


def table(results: dict) -> str:
    base = results["medians"].get("baseline-http", {}).get("events_per_s")
    rows = [f"{'server':<20} {'events/s (batch)':>17} {'vs baseline':>12} {'CPU us/event':>13} "
            f"{'track p50 ms':>13} {'track p99 ms':>13}"]
    for name, m in results["medians"].items():
        ratio = f"{m['events_per_s'] / base:.3f}" if base else "-"
        rows.append(f"{name:<20} {m['events_per_s']:>17,.0f} {ratio:>12} {m['cpu_us_per_event']:>13} "
                    f"{m['p50_ms']:>13} {m['p99_ms']:>13}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 5)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", 16)))
    parser.add_argument("--rate", type=float, default=float(os.environ.get("BENCH_RATE", 200)))
    parser.add_argument("--no-baseline", action="store_true", help="measure the collector only")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 16066)))
    args = parser.parse_args()

    run_dir = REPO / ".run/bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    broker, started_kafka = start_kafka()
    bootstrap = broker.split("://", 1)[-1].split(";")[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    raw_topic = f"bench-{uuid.uuid4().hex[:8]}.raw"
    baseline = [PYTHON, str(REPO / "bench/baseline_server.py"), str(args.port)]
    servers = {} if args.no_baseline else {
        "baseline-http": lambda: (baseline, env),
        "baseline-http+kafka": lambda: ([*baseline, "--kafka", bootstrap, "--topic", raw_topic], env),
    }
    collector_topics = []

    def collector(roles: str):
        def start():
            app_id = f"bench-{uuid.uuid4().hex[:8]}"  # fresh consumer group and topics
            collector_topics.extend(f"{app_id}.{t}" for t in INPUT_TOPICS)
            return [str(Path(PYTHON).parent / "faust"), "-A", "app", "worker", "-l", "info"], {
                **env, "TASTEMAKER_BROKER": broker, "TASTEMAKER_APP_ID": app_id, "TASTEMAKER_TOPIC_PREFIX": f"{app_id}.",
                "TASTEMAKER_WRITE_KEYS": f"{WRITE_KEY}=bench", "TASTEMAKER_WEB_PORT": str(args.port),
                "TASTEMAKER_DATA_DIR": str(run_dir / "data"), "TASTEMAKER_SESSION_TIMEOUT": "6",
                "TASTEMAKER_ROLES": roles,
                # Throughput from one loopback client: the abuse limits would measure 429s instead.
                "TASTEMAKER_RATE_LIMIT_PER_KEY": "off", "TASTEMAKER_RATE_LIMIT_PER_CLIENT": "off"}
        return start

    # A collector worker (TASTEMAKER_ROLES=collector, how a deployment scales collection), and the same with
    # the stream stages in the same process working off what it accepts (the all-in-one default).
    servers["collector"] = collector("collector")
    servers["collector+stream"] = collector("collector,stream")
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "args": vars(args), "servers": {name: [] for name in servers}}
    try:
        if not args.no_baseline:
            asyncio.run(create_topic(bootstrap, raw_topic, 8))
        # Servers take turns in every repetition, so noise from other work on the machine is spread over all.
        for i in range(args.runs):
            say(f"repetition {i + 1}/{args.runs}")
            for name, start in servers.items():
                cmd, server_env = start()
                results["servers"][name].append(repetition(name, cmd, server_env, args, run_dir / f"{name}.log"))
        reps = results["servers"]["collector"] + results["servers"]["collector+stream"]
        accepted = sum(r[m]["accepted"] for r in reps for m in ("latency", "throughput"))
        results["collector_accepted"] = accepted
        results["collector_stored"] = asyncio.run(stored(bootstrap, collector_topics))
    finally:
        if started_kafka:
            stop_kafka()
    results["medians"] = {name: medians(reps) for name, reps in results["servers"].items()}

    out_dir = REPO / "bench/results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"collector-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nmedians of {args.runs} runs of {args.seconds:g} s; batches of {args.batch} events over "
          f"{args.concurrency} connections; /v1/track at {args.rate:g}/s open loop; {os.cpu_count()} CPUs")
    print(table(results))
    accepted, stored_ = results["collector_accepted"], results["collector_stored"]
    ok = accepted == stored_
    print(f"events accepted by the collector: {accepted:,}; stored in its input topics: {stored_:,} "
          f"({'equal' if ok else 'MISMATCH'})")
    print(f"results: {out.relative_to(REPO)}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
