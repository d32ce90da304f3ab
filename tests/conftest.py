from __future__ import annotations

import pytest

from tests.support.kafka import kafka_broker
from tests.support.worker import Deployment


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> str:
    """A real Kafka broker for the whole session (started here unless TASTEMAKER_TEST_BROKER is set)."""
    with kafka_broker(tmp_path_factory.mktemp("kafka")) as url:
        yield url


@pytest.fixture
def deployment(broker, tmp_path, request) -> Deployment:
    """A fresh app id, topic prefix and data dirs; its workers are stopped after the test."""
    deployment = Deployment(broker, tmp_path)
    yield deployment
    failed = getattr(request.node, "rep_call", None)
    deployment.shutdown()
    if failed is not None and failed.failed:
        print(deployment.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
