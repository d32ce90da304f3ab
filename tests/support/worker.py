"""Real ``faust -A app worker`` processes for integration tests, each with its own port and data dir."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.support.kafka import REPO, delete_topics_of
from tests.support.ports import free_port

# Credentials every test deployment is configured with (app/web/auth.py): the admin and read scopes, the
# secret workers forward with, and the secret visitor tokens are signed with (16+ characters each).
ADMIN_TOKEN = "test-admin-token"
READ_TOKEN = "test-reader-token"
PEER_TOKEN = "test-peer-secret"
VISITOR_SECRET = "test-visitor-secret"


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header of ``token`` (none when None)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def visitor_token(raw_id: str, ttl: int = 600, secret: str = VISITOR_SECRET) -> str:
    """A visitor token for ``raw_id``, as the site's server issues it (tastemaker/access.py)."""
    from tastemaker.access import issue_visitor_token

    return issue_visitor_token(raw_id, secret, int(time.time()) + ttl)


class WorkerProcess:
    def __init__(self, name: str, env: dict[str, str], data_dir: Path, log_path: Path, cwd: Path = REPO):
        self.name = name
        self.port = free_port()
        self.env = {**env, "TASTEMAKER_WEB_PORT": str(self.port), "TASTEMAKER_DATA_DIR": str(data_dir)}
        self.data_dir = data_dir
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WorkerProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "app", "worker", "-l", "info"],
            cwd=self.cwd,
            env={**os.environ, "PYTHONPATH": str(REPO), **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def health(self) -> tuple[int, dict[str, Any]] | None:
        """(status, JSON) of GET /health, or None while the web server does not answer."""
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{self.url}/health", timeout=aiohttp.ClientTimeout(total=5)) as r:
                    return r.status, await r.json()
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return None

    async def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if not self.running:
                raise RuntimeError(f"worker {self.name} exited:\n{self.log_tail()}")
            answer = await self.health()
            if answer and answer[0] == 200:
                return answer[1]
            await asyncio.sleep(0.2)
        raise TimeoutError(f"worker {self.name} not ready after {timeout}s:\n{self.log_tail()}")

    async def get_json(self, path: str, token: str | None = ADMIN_TOKEN) -> tuple[int, Any]:
        """(status, JSON) of GET ``path``, sent with ``token`` as a Bearer credential (none when None)."""
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.url}{path}", headers=bearer(token), timeout=aiohttp.ClientTimeout(total=10)) as r:
                return r.status, await r.json(content_type=None)

    async def call(self, method: str, path: str, body: Any = None, token: str | None = ADMIN_TOKEN,
                   headers: dict[str, str] | None = None, with_headers: tuple[str, ...] = ()) -> tuple:
        """(status, JSON or None) of ``method path`` with a JSON ``body``, sent with ``token`` (none when None);
        with ``with_headers``, those answer headers' values (or None) follow."""
        data = None if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        sent = {**({"Content-Type": "application/json"} if data is not None else {}), **bearer(token), **(headers or {})}
        async with aiohttp.ClientSession() as http:
            async with http.request(method, f"{self.url}{path}", data=data, headers=sent,
                                    timeout=aiohttp.ClientTimeout(total=10)) as r:
                raw = await r.read()
                try:
                    answer = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    answer = raw.decode(errors="replace")
                return (r.status, answer, *(r.headers.get(name) for name in with_headers))

    def stop(self, timeout: float = 60.0) -> int | None:
        """Graceful stop (SIGTERM): Faust commits offsets and flushes tables."""
        if not self.running:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.running:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class Deployment:
    """One isolated Tastemaker on the shared broker: a fresh app id and topic prefix, its own workers."""

    def __init__(self, broker: str, tmp_path: Path, **env: str):
        self.broker = broker
        self.app_id = f"tm-{uuid.uuid4().hex[:10]}"
        self.topic_prefix = f"{self.app_id}."
        self.tmp_path = tmp_path
        self.env = {
            "TASTEMAKER_BROKER": broker,
            "TASTEMAKER_APP_ID": self.app_id,
            "TASTEMAKER_TOPIC_PREFIX": self.topic_prefix,
            "TASTEMAKER_WEB_HOST": "127.0.0.1",
            "TASTEMAKER_SESSION_TIMEOUT": "6",
            "TASTEMAKER_ADMIN_TOKENS": ADMIN_TOKEN,
            "TASTEMAKER_READ_TOKENS": READ_TOKEN,
            "TASTEMAKER_PEER_TOKEN": PEER_TOKEN,
            "TASTEMAKER_VISITOR_SECRETS": VISITOR_SECRET,
            **env,
        }
        self.workers: list[WorkerProcess] = []

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def worker(self, name: str, data_dir: Path | None = None) -> WorkerProcess:
        worker = WorkerProcess(
            name,
            self.env,
            data_dir=data_dir or self.tmp_path / f"data-{name}",
            log_path=self.tmp_path / f"{name}.log",
        )
        self.workers.append(worker)
        return worker

    def shutdown(self) -> None:
        for worker in self.workers:
            try:
                worker.stop(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # In a thread of its own: the caller may be a fixture teardown on the test session's event loop.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, delete_topics_of(self.broker, self.app_id)).result(timeout=60)

    def logs(self) -> str:
        return "\n".join(f"----- {w.name} ({w.log_path}) -----\n{w.log_tail(40)}" for w in self.workers)
