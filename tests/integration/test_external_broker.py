"""``faust -A app worker`` against an existing broker, configured by nothing but its URL."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_pipeline import page_view, wait_count
from tests.support.kafka import produce
from tests.support.worker import ADMIN_TOKEN, WorkerProcess

pytestmark = pytest.mark.integration


async def test_worker_runs_against_a_broker_given_only_its_url(broker, tmp_path):
    # Defaults for everything but the broker and the token the test reads profiles with (and a free web port,
    # so a developer's own worker on 6066 does not answer instead); relative data dir under a fresh working
    # directory.
    env = {"TASTEMAKER_BROKER": broker, "TASTEMAKER_ADMIN_TOKENS": ADMIN_TOKEN}
    worker = WorkerProcess(
        "only-url", env, data_dir=tmp_path / "var", log_path=tmp_path / "w.log", cwd=tmp_path
    )
    worker.env.pop("TASTEMAKER_DATA_DIR")
    worker.start()
    try:
        await worker.wait_ready()
        # Default topic names and app id: on a broker kept across test runs they hold earlier runs' events,
        # so this run's user is new.
        user = f"dora-{uuid.uuid4().hex[:8]}"
        await produce(broker, "clickstream", [page_view(user, n) for n in range(2)])
        assert await wait_count(worker, user, 2) == 2
        assert (tmp_path / "var" / "data" / "tastemaker").is_dir()
    finally:
        worker.stop()
