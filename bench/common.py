"""What the benchmarks share: the broker, server processes, CPU time, medians."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
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
    """Delete a finished repetition's topics (every one starts with its app id). A broker that keeps every
    run's topics slows down run after run: the development broker held 1,330 after a day of benchmarks."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            names = [name for name in await admin.list_topics() if name.startswith(app_id)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    asyncio.run(delete())
