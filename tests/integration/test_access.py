"""The access model against real workers (app/web/auth.py, tastemaker/access.py): every route the app
registers is walked, and a caller without the right credential gets 401/403 and no data; visitor tokens read
and change only their own id; rotated tokens and secrets work; Faust's own views are off.

Two workers share the partitions, so reads are forwarded between them: with the peer token, and ``table_route``
forwarding the caller's own credential to the owner, which checks it again.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid

import aiohttp
import orjson
import pytest

from tests.support.worker import (ADMIN_TOKEN, PEER_TOKEN, READ_TOKEN, REPO, VISITOR_SECRET, Deployment, bearer,
                                  visitor_token)

pytestmark = pytest.mark.integration

WRITE_KEY = "access-test-write-key"
NEW_ADMIN_TOKEN = "test-admin-token-rotated"  # both admin tokens are configured: a rotation in progress
NEW_VISITOR_SECRET = "test-visitor-secret-rotated"  # signs; the old one still verifies
MAX_STREAMS = 4

# Routes anyone may call: the collector (its write key is checked there), the tracker and its demo page,
# health, the API description, Faust's production index ({"status": "OK"}), and what holds no person: the
# catalog's reads, similar items and trending.
PUBLIC_PREFIXES = ("/v1/",)
PUBLIC_READS = {"/", "/health", "/tracker.js", "/demo", "/openapi.json", "/items", "/items/{item_id}",
                "/items/{item_id}/similar", "/trending"}
# What a person's data looks like in an answer: none of it may appear in a refusal.
PERSON_FIELDS = ("profile", "person", "ids", "traits", "items", "merged_into", "windows", "session")


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def registered_routes(env: dict[str, str]) -> list[tuple[str, str]]:
    """(method, path pattern) of every route the app serves, read from the app itself in a process of its own
    with the deployment's configuration (Faust's built-in blueprints included, as the worker applies them)."""
    program = ("import json\nfrom app import app\napp.web.init_server()\n"
               "print(json.dumps(sorted({(r.method, r.resource.canonical) for r in app.web.web_app.router.routes()})))")
    out = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO), **env}, check=True).stdout
    return [tuple(route) for route in json.loads(out.strip().splitlines()[-1])]


def public(method: str, pattern: str) -> bool:
    return pattern.startswith(PUBLIC_PREFIXES) or (method in ("GET", "HEAD") and pattern in PUBLIC_READS)


@pytest.fixture(scope="module")
async def running(broker, tmp_path_factory):
    deployed = Deployment(broker, tmp_path_factory.mktemp("access"), TASTEMAKER_WRITE_KEYS=f"{WRITE_KEY}=web",
                          TASTEMAKER_ADMIN_TOKENS=f"{NEW_ADMIN_TOKEN},{ADMIN_TOKEN}",
                          TASTEMAKER_VISITOR_SECRETS=f"{NEW_VISITOR_SECRET},{VISITOR_SECRET}",
                          TASTEMAKER_MAX_STREAMS=str(MAX_STREAMS))
    first, second = deployed.worker("first").start(), deployed.worker("second").start()
    try:
        await asyncio.gather(first.wait_ready(), second.wait_ready())
        run = uuid.uuid4().hex[:8]
        victim, intruder = f"victim-{run}", f"intruder-{run}"
        for who in (victim, intruder):
            for n in range(2):
                status, _ = await first.call("POST", "/v1/track", {"anonymousId": who, "event": "Product Viewed",
                                                                   "properties": {"product_id": f"sku-{n}"}},
                                             token=None, headers={"Authorization": basic(WRITE_KEY)})
                assert status == 200
        for who in (victim, intruder):
            await until(first, f"/profiles/{who}", lambda body: body["profile"]["events"] == 2)
        yield deployed, first, second, victim, intruder
    finally:
        deployed.shutdown()


async def until(worker, path: str, check, timeout: float = 45.0, token: str | None = ADMIN_TOKEN):
    deadline = time.monotonic() + timeout
    while True:
        status, body = await worker.get_json(path, token=token)
        if status == 200 and check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{worker.name} {path}: {status} {body}")
        await asyncio.sleep(0.25)


async def raw(worker, method: str, path: str, headers: dict[str, str], params: dict | None = None):
    """(status, headers, body bytes) of a request with exactly these headers."""
    async with aiohttp.ClientSession() as http:
        async with http.request(method, f"{worker.url}{path}", headers=headers, params=params,
                                timeout=aiohttp.ClientTimeout(total=10)) as r:
            return r.status, r.headers, await r.read()


def assert_refused(status: int, headers, body: bytes, victim: str, where: str) -> None:
    assert status in (401, 403), f"{where}: {status} {body[:300]!r}"
    answer = orjson.loads(body)
    assert set(answer) == {"error"} and answer["error"]["status"] == status, f"{where}: {answer}"
    assert answer["error"]["field"] == "Authorization" and answer["error"]["reason"], where
    assert victim not in body.decode() and not any(f'"{name}"' in body.decode() for name in PERSON_FIELDS)
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer"), where


async def test_every_route_refuses_callers_without_the_right_credential(running):
    deployed, first, _, victim, intruder = running
    routes = registered_routes({**first.env, "TASTEMAKER_DATA_DIR": str(deployed.tmp_path / "routes")})
    protected = [(m, p) for m, p in routes if not public(m, p) and m != "OPTIONS"]
    # The walk reads the routes from the app, so it covers new ones by itself; these must be among them.
    assert {p for _, p in protected} >= {"/profiles/{profile_id}", "/profiles/{profile_id}/opt-in",
                                         "/profiles/{profile_id}/opt-out", "/profiles/{profile_id}/reset",
                                         "/persons/{person_id}", "/ids/{raw_id}", "/recommendations/{person_id}",
                                         "/persons/{person_id}/recommendations", "/decisions/{person_id}/stream",
                                         "/rules", "/stats/ingest", "/items/{item_id}"}
    assert not any(p.startswith(("/table", "/router", "/graph", "/assignment")) for _, p in routes)

    expired_own = f"Bearer {visitor_token(victim, ttl=-5)}"
    forged_own = f"Bearer {visitor_token(victim, secret='not-the-sites-secret-at-all')}"
    callers = {
        "anonymous": {},
        "write key": {"Authorization": basic(WRITE_KEY)},
        "write key as bearer": bearer(WRITE_KEY),
        "another visitor": bearer(visitor_token(intruder)),
        "the visitor, expired": {"Authorization": expired_own},
        "the visitor, forged": {"Authorization": forged_own},
    }
    walked = 0
    for method, pattern in protected:
        path = pattern
        for name in ("profile_id", "person_id", "raw_id", "item_id", "rule_id"):
            path = path.replace("{" + name + "}", victim)
        assert "{" not in path, f"a route parameter the walk does not fill: {pattern}"
        for caller, headers in callers.items():
            status, answer_headers, body = await raw(first, method, path, headers)
            where = f"{caller}: {method} {pattern}"
            if method == "HEAD":  # no body; a POST-only view answers HEAD with 405
                assert status in (401, 403, 405), f"{where}: {status}"
                continue
            assert_refused(status, answer_headers, body, victim, where)
            walked += 1
        if pattern == "/decisions/{person_id}/stream":  # the query token of another id opens nothing
            status, answer_headers, body = await raw(first, method, path, {},
                                                     {"access_token": visitor_token(intruder)})
            assert status == 403 and victim not in body.decode()
    assert walked >= 20 * len(callers)


async def test_scopes_a_read_token_reads_and_an_admin_token_does_everything_else(running):
    _, first, _, victim, _ = running
    assert (await first.call("GET", f"/profiles/{victim}", token=READ_TOKEN))[0] == 200
    assert (await first.call("GET", f"/recommendations/{victim}", token=READ_TOKEN))[0] == 200
    assert (await first.call("GET", "/stats/ingest", token=READ_TOKEN))[0] == 200
    for method, path in (("DELETE", f"/profiles/{victim}"), ("POST", f"/profiles/{victim}/opt-out"),
                         ("GET", f"/persons/{victim}"), ("GET", f"/ids/{victim}"), ("GET", "/rules"),
                         ("PUT", f"/items/{victim}")):
        status, body = await first.call(method, path, {}, token=READ_TOKEN)
        assert (status, body["error"]["field"]) == (403, "Authorization"), (method, path)
    # The peer token opens the internal routes only.
    status, state = await first.call("GET", f"/persons/{victim}", token=PEER_TOKEN)
    assert status == 200 and state["profile"]["events"] == 2
    assert (await first.call("GET", "/rules", token=PEER_TOKEN))[0] == 403
    assert (await first.call("POST", f"/profiles/{victim}/opt-out", {}, token=PEER_TOKEN))[0] == 403


async def test_a_visitor_token_reads_and_changes_its_own_id_and_nothing_else(running):
    _, first, second, victim, intruder = running
    own = visitor_token(victim)
    # Either worker answers: one owns the victim's partitions, the other forwards (the caller's token to the
    # id's owner, the peer token to the person's owner), and every hop checks.
    for worker in (first, second):
        status, body = await worker.call("GET", f"/profiles/{victim}", token=own)
        assert status == 200 and body["id"] == victim and body["profile"]["events"] == 2
        status, body = await worker.call("GET", f"/recommendations/{victim}?limit=5", token=own)
        assert status == 200 and body["person"] == victim
        assert body.get("fallback_reason") != "owner_unavailable"  # the owner answered the forwarded request
    for method, path in (("GET", f"/profiles/{intruder}"), ("GET", f"/recommendations/{intruder}"),
                         ("POST", f"/profiles/{intruder}/opt-out"), ("POST", f"/profiles/{intruder}/reset"),
                         ("GET", f"/persons/{victim}"), ("GET", f"/ids/{victim}"), ("DELETE", f"/profiles/{victim}"),
                         ("GET", "/stats/ingest"), ("GET", "/rules")):
        status, body = await first.call(method, path, {}, token=own)
        assert status == 403 and set(body) == {"error"}, (method, path, body)
    status, body = await first.call("POST", f"/profiles/{victim}/not-interested", {"item_id": "sku-0"}, token=own)
    assert (status, body["command"]) == (202, "not_interested")
    status, body = await first.call("POST", f"/profiles/{victim}/preferences", {"categories": ["shoes"]}, token=own)
    assert (status, body["command"]) == (202, "preferences")


async def test_the_decision_stream_takes_the_visitors_token_in_the_query(running):
    _, first, _, victim, intruder = running
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{first.url}/decisions/{victim}/stream", params={"access_token": visitor_token(victim)},
                            timeout=aiohttp.ClientTimeout(total=10)) as stream:
            assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
            assert await stream.content.readline() == b": connected\n"
        async with http.get(f"{first.url}/decisions/{victim}/stream", headers=bearer(READ_TOKEN),
                            timeout=aiohttp.ClientTimeout(total=10)) as stream:
            assert stream.status == 200  # a site's server may follow anyone's stream with a read token
            assert await stream.content.readline() == b": connected\n"
    status, _, body = await raw(first, "GET", f"/decisions/{victim}/stream", {},
                                {"access_token": visitor_token(intruder)})
    assert status == 403
    # Elsewhere the query token counts for nothing: only the stream takes it (EventSource sends no headers).
    status, headers, body = await raw(first, "GET", f"/profiles/{victim}", {}, {"access_token": visitor_token(victim)})
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")


async def test_person_commands_with_a_write_key_are_refused(running):
    _, first, _, victim, _ = running
    for command, body in (("opt-out", {}), ("opt-in", {}), ("reset", {}), ("not-interested", {"item_id": "sku-1"}),
                          ("preferences", {"brands": ["Acme"]})):
        status, answer = await first.call("POST", f"/profiles/{victim}/{command}", body, token=None,
                                          headers={"Authorization": basic(WRITE_KEY)})
        assert status == 401 and answer["error"]["field"] == "Authorization", command
        status, answer = await first.call("POST", f"/profiles/{victim}/{command}", {**body, "writeKey": WRITE_KEY},
                                          token=None)
        assert status == 401, command
    body = await until(first, f"/profiles/{victim}", lambda body: True)
    assert body["profile"]["consent"]["personalization"] is True  # nothing changed


async def test_rotated_admin_tokens_and_visitor_secrets_both_work(running):
    _, first, _, victim, _ = running
    for admin in (NEW_ADMIN_TOKEN, ADMIN_TOKEN):
        status, body = await first.call("GET", "/rules", token=admin)
        assert status == 200 and "rules" in body
    assert (await first.call("GET", "/rules", token="test-admin-token-retired"))[0] == 401
    for secret in (NEW_VISITOR_SECRET, VISITOR_SECRET):
        status, body = await first.call("GET", f"/profiles/{victim}", token=visitor_token(victim, secret=secret))
        assert status == 200 and body["id"] == victim


async def test_the_cli_issues_a_visitor_token_the_workers_accept(running):
    _, first, _, victim, _ = running

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "faust", "-A", "app", "visitor-token", *args], cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO), **first.env}, capture_output=True,
                              text=True, timeout=120)

    issued = await asyncio.to_thread(cli, victim, "--ttl", "120")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("tmv1.")
    assert (await first.call("GET", f"/profiles/{victim}", token=token))[0] == 200
    refused = await asyncio.to_thread(cli, victim, "--ttl", str(10 * 86400))
    assert refused.returncode == 2 and "TASTEMAKER_VISITOR_TOKEN_TTL_MAX" in refused.stderr + refused.stdout


async def test_fausts_own_table_and_router_views_are_off(running):
    _, first, _, victim, _ = running
    for path in (f"/table/profiles/{victim}/", "/table/profiles/", "/table/", "/router/", "/router/profiles/",
                 "/graph/", "/assignment/"):
        for headers in ({}, bearer(ADMIN_TOKEN)):
            status, _, body = await raw(first, "GET", path, headers)
            assert status == 404 and victim not in body.decode(), path
    status, body = await first.get_json("/", token=None)
    assert (status, body) == (200, {"status": "OK"})  # Faust's production index, not its statistics


async def test_streams_past_the_worker_cap_get_503_with_retry_after(running):
    _, first, _, _, _ = running
    async with aiohttp.ClientSession(headers=bearer(READ_TOKEN)) as http:
        opened, refused = [], None
        try:
            for n in range(MAX_STREAMS + 2):  # streams of different ids: the per-id cap plays no part
                stream = await http.get(f"{first.url}/decisions/cap-{n}/stream", timeout=aiohttp.ClientTimeout(total=10))
                if stream.status == 503:
                    refused = (stream.headers.get("Retry-After"), await stream.json())
                    stream.release()
                    break
                assert stream.status == 200
                opened.append(stream)
            assert refused is not None and len(opened) <= MAX_STREAMS
            retry_after, body = refused
            assert int(retry_after) > 0 and body["error"]["status"] == 503
        finally:
            for stream in opened:
                stream.close()
        # Closed streams give their places back (noticed at the latest at the next keepalive write).
        deadline = time.monotonic() + 40
        while True:
            stream = await http.get(f"{first.url}/decisions/cap-again/stream", timeout=aiohttp.ClientTimeout(total=10))
            status = stream.status
            stream.close()
            if status == 200:
                break
            assert status == 503 and time.monotonic() < deadline
            await asyncio.sleep(1)
