"""The API contract fuzzed on every test run: generated requests to each endpoint of app/web/openapi.json
against a real worker, each answer checked against the document (tests/support/fuzz.py).

Per operation ``TASTEMAKER_FUZZ_EXAMPLES`` requests (default 25; ``make fuzz`` sends 1,000+): Schemathesis
cases, positive and negative, with the credentials the operation's security lists and with ones it must refuse.
Each must come back within the timeout (no hang), without a server error (a 500, or a 5xx the document does
not list), with a documented status, content type, headers and body, and 401/403 exactly when the credential
is not one the document lists. Then the answers generated requests hardly reach, checked the same way: a body
that does not decode as its Content-Encoding says, and the collector's 413 and 429.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.support.fuzz import WRITE_KEYS, Fuzzer, failures_report, operation_labels, seed, table
from tests.support.worker import Deployment

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("TASTEMAKER_FUZZ_EXAMPLES", "25"))
LABELS = operation_labels()
WITH_BODY = [label for label in LABELS if label.split()[0] in ("PUT", "POST")
             and not label.endswith(("/reset", "/opt-in", "/opt-out", "/enable", "/disable"))]


@pytest.fixture(scope="module")
async def fuzzer(broker, tmp_path_factory):
    deployment = Deployment(broker, tmp_path_factory.mktemp("fuzz"), TASTEMAKER_WRITE_KEYS=WRITE_KEYS)
    worker = deployment.worker("fuzz").start()
    try:
        await worker.wait_ready()
        await asyncio.to_thread(seed, worker.url)
        yield Fuzzer(worker.url)
        assert worker.running, worker.log_tail()
    finally:
        deployment.shutdown()


@pytest.mark.parametrize("label", LABELS)  # in the fuzzer's order: reads first, deletions last
async def test_generated_requests_are_answered_as_documented(fuzzer, label):
    tally = await asyncio.to_thread(fuzzer.fuzz, fuzzer.operation(label), EXAMPLES)
    assert tally.requests >= EXAMPLES
    assert tally.problems == 0, f"\n{table({label: tally})}\n\n{failures_report({label: tally})}"


@pytest.mark.parametrize("label", WITH_BODY)
async def test_a_body_that_does_not_decode_is_a_documented_400(fuzzer, label):
    # Found by fuzzing: `Content-Encoding: gzip` on a body that is not gzip was a 500 on every route with a body.
    status, mismatch = await asyncio.to_thread(fuzzer.undecodable_body, fuzzer.operation(label))
    assert status == 400 and mismatch is None, mismatch


LIMITED = "1,3"  # TASTEMAKER_RATE_LIMIT_PER_CLIENT: 1 event/s, a burst of 3


@pytest.fixture(scope="module")
async def limited(broker, tmp_path_factory):
    deployment = Deployment(broker, tmp_path_factory.mktemp("fuzz-limits"), TASTEMAKER_WRITE_KEYS=WRITE_KEYS,
                            TASTEMAKER_RATE_LIMIT_PER_CLIENT=LIMITED, TASTEMAKER_ROLES="collector")
    worker = deployment.worker("collector").start()
    try:
        await worker.wait_ready()
        yield Fuzzer(worker.url)
    finally:
        deployment.shutdown()


async def test_the_collectors_limits_answer_as_documented(limited):
    # The refusals generated requests hardly reach: too many messages, too large a body, too many requests.
    batch = limited.operation("POST /v1/batch")
    message = {"type": "track", "userId": "u", "event": "e"}
    too_many = await asyncio.to_thread(limited.one, batch, body={"batch": [message] * 2501},
                                       media_type="application/json")
    too_large = await asyncio.to_thread(limited.one, batch, body={"batch": [{**message, "event": "e" * 1000}] * 600},
                                        media_type="application/json")
    assert too_many == (413, None) and too_large == (413, None)
    track = limited.operation("POST /v1/track")
    answers = [await asyncio.to_thread(limited.one, track, body={"userId": "u", "event": "e"},
                                       media_type="application/json") for _ in range(10)]
    assert (429, None) in answers, answers  # with Retry-After: the document requires the header
    assert all(mismatch is None for _, mismatch in answers), answers
