"""What the benchmarks share: the broker, preloaded input topics, server processes, CPU time, medians.

The stream benchmarks (bench/pipeline.py, bench/peers.py) time each server from its first processed event to
its last, with the CPU time the process spent meanwhile: ``timed_run`` polls the server's progress and reads
its CPU time from /proc; a runner of the benchmarks' own (bench/baseline_*.py) times itself with an
``EventClock`` and reports that to the poll: exact for runs of a fraction of a second too, which polls 50 ms
apart could not time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FAUST = str(Path(PYTHON).parent / "faust")
# The admin token of this run's workers only (app/web/auth.py): the benchmarks read person routes and stats with it.
BENCH_TOKEN = f"bench-{uuid.uuid4().hex}"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def start_kafka() -> tuple[str, bool]:
    """``TASTEMAKER_BROKER`` if set, else the local broker (``KAFKA_PORT``, default 9092), started when it was
    not running. Returns the broker URL and whether it was started here (and should be stopped)."""
    if os.environ.get("TASTEMAKER_BROKER"):
        return os.environ["TASTEMAKER_BROKER"], False
    port = os.environ.setdefault("KAFKA_PORT", "9092")
    kafka = str(REPO / "infra/kafka/kafka.sh")
    started = subprocess.run([kafka, "status"], capture_output=True).returncode != 0
    subprocess.run([kafka, "start"], check=True)
    return f"kafka://127.0.0.1:{port}", started


def stop_kafka() -> None:
    subprocess.run([str(REPO / "infra/kafka/kafka.sh"), "stop"])


def bootstrap_of(broker: str) -> str:
    return broker.split("://", 1)[-1].split(";")[0]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited ({process.returncode}); see its log in .run/bench/")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url}/health is not 200 after {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_env(broker: str, app_id: str, port: int, data_dir: Path, **extra: str) -> dict[str, str]:
    """A Tastemaker worker of its own: fresh app id (consumer group, topics), port and data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    return {**env, "TASTEMAKER_BROKER": broker, "TASTEMAKER_APP_ID": app_id, "TASTEMAKER_TOPIC_PREFIX": f"{app_id}.",
            "TASTEMAKER_WEB_PORT": str(port), "TASTEMAKER_DATA_DIR": str(data_dir),
            "TASTEMAKER_SESSION_TIMEOUT": "6", "TASTEMAKER_ADMIN_TOKENS": BENCH_TOKEN, **extra}


def authorized(url: str) -> urllib.request.Request:
    """A GET of ``url`` carrying the run's admin token."""
    return urllib.request.Request(url, headers={"Authorization": f"Bearer {BENCH_TOKEN}"})


def delete_topics_of(bootstrap: str, app_id: str) -> None:
    """Delete a finished repetition's topics: every one whose name holds its app id (Tastemaker's and Faust's
    start with it, Quix's changelogs are ``changelog__<consumer group>--...``). A broker that keeps every
    run's topics slows down run after run: the development broker held 1,330 after a day of benchmarks."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [name for name in await admin.list_topics() if app_id in name]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    asyncio.run(delete())


# --- the stream benchmarks: preloaded inputs, one server timed from its first event to its last ---------------

INPUTS = ("clickstream", "purchase_events", "engagement_metrics", "identities")  # Tastemaker's input topics


async def preload(bootstrap: str, prefix: str, events: list, partitions: int, rules: list[dict] = ()) -> None:
    """Fresh input topics ``<prefix><input>`` (``partitions`` each) holding ``events`` (topic, key, message),
    and a compacted ``<prefix>rules`` holding ``rules`` (the rules topic of a Tastemaker worker).

    Record times are in the order of ``events``, 1 ms apart, the last one now: as if they had arrived live
    over the last ``len(events)`` ms. A consumer that merges topics by record time (Quix Streams aligns the
    partitions it concatenates so) then sees them in that order; with the producer's clock, dozens of records
    share each millisecond and their order across topics is arbitrary."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    import orjson

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{prefix}{t}", partitions, 1) for t in INPUTS]
                                  + [NewTopic(f"{prefix}rules", 1, 1, topic_configs={"cleanup.policy": "compact"})])
        names = [f"{prefix}{t}" for t in INPUTS]
        for _ in range(100):  # until the metadata lists every partition with a leader (else sends wait, retry)
            described = await admin.describe_topics(names)
            if all(not t["error_code"] and len(t["partitions"]) == partitions
                   and all(p["leader"] >= 0 for p in t["partitions"]) for t in described):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    # The first sends to a just-created partition are refused (NotLeaderForPartition) until its leader is
    # ready, and retried: one warning per partition. A send that still fails raises.
    logging.getLogger("aiokafka.producer.sender").setLevel(logging.ERROR)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sends = [await producer.send(f"{prefix}rules", orjson.dumps(rule), key=rule["id"].encode()) for rule in rules]
        first = int(time.time() * 1000) - len(events)
        sends += [await producer.send(f"{prefix}{topic}", orjson.dumps(message), key=key.encode(), timestamp_ms=first + n)
                  for n, (topic, key, message) in enumerate(events)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(authorized(url), timeout=5) as answer:
        return json.loads(answer.read())


def tastemaker_progress(url: str) -> dict:
    """A Tastemaker worker's progress: input records that reached an end (``GET /stats/ingest``)."""
    outcomes = get_json(f"{url}/stats/ingest")["outcomes"]
    # Every input record ends in one of these (identify events are applied too).
    applied = outcomes.get("applied", 0)
    bots = sum(n for k, n in outcomes.items() if k.startswith("bot:"))
    duplicates, dead = outcomes.get("duplicate", 0), outcomes.get("dead_letter", 0)
    return {"events": applied + bots + duplicates + dead,
            "outcomes": {"applied": applied, "bot": bots, "duplicate": duplicates, "dead_letter": dead}}


def runner_progress(url: str) -> dict:
    """The progress of a runner of the benchmarks' own (``EventClock.report`` at ``GET /count``)."""
    return get_json(f"{url}/count")


class EventClock:
    """A runner's count of processed events, timed from its first event to its ``expected``-th, in the
    process (``time.perf_counter``, and ``time.process_time``: the CPU of all its threads, as /proc counts).

    ``started()`` before the first event is handled, ``done(n)`` after ``n`` more are: two comparisons per
    call, so a runner may call them per event. ``expected`` 0: counted, not timed (``timed_run`` polls)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected or float("inf")
        self.events = 0
        self.extra: dict = {}  # what else the runner reports (checks of its own)
        self._first: tuple[float, float] | None = None
        self._timed: dict | None = None

    def started(self) -> None:
        if self._first is None:
            self._first = (time.perf_counter(), time.process_time())

    def done(self, n: int = 1) -> None:
        if self._first is None:
            self.started()
        self.events += n
        if self.events >= self.expected and self._timed is None:
            wall, cpu = time.perf_counter(), time.process_time()
            self._timed = {"events": self.events, "seconds": wall - self._first[0], "cpu_seconds": cpu - self._first[1]}

    def report(self) -> dict:
        if self.expected == float("inf"):
            return {"events": self.events, **self.extra}
        return {"events": self.events, "timed": self._timed, **self.extra}


def serve_progress(port: int, clock: EventClock) -> ThreadingHTTPServer:
    """``GET /health`` and ``GET /count`` (``clock.report()``) on 127.0.0.1:``port``, from a thread of their
    own, for a runner without a web server of its own. It wakes only for the benchmark's polls."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = json.dumps(clock.report() if self.path.startswith("/count") else {"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="progress", daemon=True).start()
    return server


def timed_run(name: str, cmd: list[str], env: dict, total: int, url: str, progress, log_path, timeout: float,
              profile_to=None) -> dict:
    """Start ``cmd`` (a server on ``url``), wait until ``progress(url)["events"]`` reaches ``total`` (or
    ``timeout`` s), stop it. Timed from the first processed event to the last, so start-up and the
    consumer-group join are not charged: by the server's own ``EventClock`` when its progress carries one
    (``timed``; then polled every 0.5 s, to stop it), else by polling every 50 ms, with the process's CPU time
    from /proc. ``profile_to``: sample the server with py-spy over the same span (collapsed stacks)."""
    with open(log_path, "ab") as log:
        server = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    spy = None
    report: dict = {}
    try:
        wait_healthy(url, server)
        first = None
        cpu0 = cpu_seconds(server.pid)
        deadline = time.monotonic() + timeout
        done = 0
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"{name}: the server exited ({server.returncode}); see its log {log_path}")
            report = progress(url)
            done = report["events"]
            now = time.perf_counter()
            if first is None and done > 0:
                first, first_done, cpu0 = now, done, cpu_seconds(server.pid)
                if profile_to:  # sampled from the first event to the last (py-spy: a process of its own)
                    spy = subprocess.Popen([str(Path(PYTHON).parent / "py-spy"), "record", "--pid", str(server.pid),
                                            "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(profile_to)],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done >= total and ("timed" not in report or report["timed"]):
                break
            time.sleep(0.5 if "timed" in report else 0.05)  # a runner that times itself needs no close watch
        cpu = cpu_seconds(server.pid) - cpu0
        elapsed = time.perf_counter() - first if first else float("nan")
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        stop(server)
    timed = report.pop("timed", None)
    if timed:  # the runner's own clock: every event, from the first to the last
        counted, elapsed, cpu, how = timed["events"], timed["seconds"], timed["cpu_seconds"], "self"
    else:
        counted, how = done - (first_done if first else 0), "polled"
    result = {"processed": done, "expected": total, "seconds": round(elapsed, 3), "timing": how,
              "events_per_s": round(counted / elapsed) if counted and elapsed > 0 else 0,
              "cpu_us_per_event": round(cpu / max(counted, 1) * 1e6, 1),
              **{k: v for k, v in report.items() if k != "events"}}
    say(f"  {name:<18} {result['events_per_s']:>7} events/s, {result['cpu_us_per_event']:>7} us CPU/event, "
        f"{done}/{total} processed in {result['seconds']} s ({how})")
    return result


def medians_of(repetitions: list[dict]) -> dict:
    """The median events/s and CPU per event of a server's repetitions, and whether each accounted for all."""
    return {"events_per_s": statistics.median(r["events_per_s"] for r in repetitions),
            "cpu_us_per_event": statistics.median(r["cpu_us_per_event"] for r in repetitions),
            "complete": all(r["processed"] >= r["expected"] for r in repetitions)}


def machine() -> dict:
    """What the numbers were measured on: CPU model and count, memory, OS, Python."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(int(memory) / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version()}


def versions(*distributions: str) -> dict:
    """Installed versions of ``distributions`` and the checkout's commit (``+dirty`` with local changes)."""
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True)
    found["tastemaker"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return found


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
