"""``GET /openapi.json`` on real workers of both roles: public, JSON, the repository's document byte for byte."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.support.kafka import REPO
from tests.support.worker import Deployment

pytestmark = pytest.mark.integration

DOCUMENT = (REPO / "app" / "web" / "openapi.json").read_bytes()


@pytest.fixture(scope="module")
async def workers(broker, tmp_path_factory):
    deployment = Deployment(broker, tmp_path_factory.mktemp("openapi"))
    both = deployment.worker("both")
    collector = deployment.worker("collector")
    collector.env["TASTEMAKER_ROLES"] = "collector"
    for worker in (both, collector):
        worker.start()
    try:
        for worker in (both, collector):
            await worker.wait_ready()
        yield both, collector
    finally:
        deployment.shutdown()


@pytest.mark.parametrize("role", ["collector,stream", "collector"])
async def test_the_document_is_served_without_credentials(workers, role):
    worker = workers[0] if role == "collector,stream" else workers[1]
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{worker.url}/openapi.json") as answer:
            assert answer.status == 200
            assert answer.content_type == "application/json"
            body = await answer.read()
    assert body == DOCUMENT
    assert json.loads(body)["openapi"].startswith("3.1.")


async def test_a_collecting_only_worker_serves_no_person_routes(workers):
    # The document describes the whole deployment; a worker without the stream role answers only its part.
    _, collector = workers
    async with aiohttp.ClientSession() as http:
        for path, status in (("/rules", 404), ("/profiles/alice", 404), ("/health", 200), ("/tracker.js", 200)):
            async with http.get(f"{collector.url}{path}") as answer:
                assert answer.status == status, path
