"""GET /health: 503 until the worker has its partitions and its tables, 200 after."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.integration


async def test_health_is_503_until_assigned_and_recovered_then_200(deployment):
    worker = deployment.worker("w1").start()
    seen = []  # (status, failing checks) in the order observed, from the first answer on
    deadline = asyncio.get_running_loop().time() + 90
    while asyncio.get_running_loop().time() < deadline and worker.running:
        answer = await worker.health()
        if answer:
            status, body = answer
            failing = sorted(name for name, check in body["checks"].items() if not check["ok"])
            seen.append((status, failing))
            if status == 200:
                break
        await asyncio.sleep(0.02)

    assert seen, "the web server never answered"
    first_status, first_failing = seen[0]
    assert first_status == 503
    assert "assignment" in first_failing and "recovery" in first_failing
    assert seen[-1] == (200, [])
    assert all(status == 503 and failing for status, failing in seen[:-1])
