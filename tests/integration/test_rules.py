"""Rules end to end: applied through the admin API, events through the collector (Segment's library), decisions
read from ``personalization_decisions`` with a plain Kafka consumer, against a real worker."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
import pytest
from segment.analytics import Client

from tests.support.kafka import consume_all
from tests.support.worker import ADMIN_TOKEN, REPO, Deployment, visitor_token

pytestmark = pytest.mark.integration

WRITE_KEY = "rules-test-key"
TOKEN = ADMIN_TOKEN

RULES = [
    {"id": "three-product-views", "version": 1, "description": "3 product pages within 10 minutes",
     "when": 'event.name == "Product Viewed" && count("Product Viewed", "10m") >= 3', "cooldown": "1h",
     "actions": [{"type": "decision", "kind": "recommendation_block", "block": "more-like-this"}]},
    {"id": "long-read", "version": 1, "description": "over 5 minutes visible on one page",
     "on": ["Page Engaged"], "when": "page_dwell_s() > 300", "cooldown": "1h",
     "actions": [{"type": "decision", "kind": "content_block", "block": "newsletter"}]},
    {"id": "added-to-cart", "version": 1, "description": "added to cart",
     "when": 'event.name == "Product Added"',
     "actions": [{"type": "decision", "kind": "offer", "block": "free-shipping"}]},
    {"id": "viewed-checkout", "version": 1, "description": "viewed checkout",
     "when": 'event.name == "Checkout Started"', "actions": [{"type": "decision", "kind": "message", "block": "help"}]},
    {"id": "purchased", "version": 1, "description": "purchased",
     "when": 'event.name == "Order Completed"',
     "actions": [{"type": "decision", "kind": "message", "block": "thanks"},
                 {"type": "set_trait", "name": "buyer", "value": True},
                 {"type": "add_segment", "segment": "buyers"}]},
    {"id": "viewed-sizing-guide", "version": 1, "description": "viewed a given content",
     "when": 'event.type == "page" && event.page_path == "/guides/sizing"',
     "actions": [{"type": "decision", "kind": "content_block", "block": "size-finder"}]},
    {"id": "accessories-after-long-product-read", "version": 1, "priority": 10,
     "description": "over 5 minutes on a product page and accessories viewed",
     "when": 'event.name == "Product Viewed" && event.category == "accessories" && '
             'session.pages.exists(p, p.page_type == "product" && p.dwell_ms > 300000)',
     "actions": [{"type": "decision", "kind": "recommendation_block", "block": "accessories"}]},
    {"id": "cart-abandoned", "version": 1, "description": "cart and no checkout within the wait",
     "when": 'event.name == "Product Added"', "wait": "4s",
     "unless": 'event.name in ["Checkout Started", "Order Completed"]',
     "actions": [{"type": "decision", "kind": "message", "block": "cart-reminder"}]},
    {"id": "bounced", "version": 1, "description": "a one-page session",
     "when": 'event.type == "session_end" && session.bounce',
     "actions": [{"type": "decision", "kind": "message", "block": "welcome-back"},
                 {"type": "add_segment", "segment": "bounced"}]},
    {"id": "quick-exit-from-product", "version": 1, "description": "left soon after a product page",
     "when": 'event.type == "session_end" && session.quick_exit && session.exit_page_type == "product"',
     "actions": [{"type": "decision", "kind": "offer", "block": "come-back-discount"}]},
]


def deployment(broker, tmp_path, **env) -> Deployment:
    return Deployment(broker, tmp_path, TASTEMAKER_WRITE_KEYS=f"{WRITE_KEY}=web",
                      TASTEMAKER_SESSION_IDLE="3", TASTEMAKER_SESSION_CLOSE_GRACE="0",
                      TASTEMAKER_FATIGUE_PER_SESSION="20", **env)


async def admin(worker, method: str, path: str, body=None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, f"{worker.url}{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                                data=None if body is None else orjson.dumps(body)) as answer:
            return answer.status, await answer.json(content_type=None)


async def decisions_of(deployment, person: str) -> list[dict]:
    records = await consume_all(deployment.broker, deployment.topic("personalization_decisions"), timeout=1.0)
    return [orjson.loads(v) for k, v in records if k == person.encode()]


async def wait_decisions(deployment, person: str, check, timeout: float = 40.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = await decisions_of(deployment, person)
        if check(found):
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"{person}: decisions never matched; got {[(d['rule_id'], d['block']) for d in found]}")


def fired(decisions: list[dict]) -> list[str]:
    return sorted(d["rule_id"] for d in decisions)


@pytest.fixture(scope="module")
async def running(broker, tmp_path_factory):
    deployed = deployment(broker, tmp_path_factory.mktemp("rules"))
    worker = deployed.worker("rules").start()
    try:
        await worker.wait_ready()
        for rule in RULES:
            status, answer = await admin(worker, "PUT", f"/rules/{rule['id']}", rule)
            assert status == 200, answer
        yield deployed, worker
    finally:
        deployed.shutdown()


def client(worker) -> Client:
    return Client(WRITE_KEY, host=worker.url, sync_mode=True, max_retries=1)


def person() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


async def test_engagement_milestones(running):
    deployed, worker = running
    segment = client(worker)
    viewer, reader = person(), person()
    for n in range(3):
        segment.track(anonymous_id=viewer, event="Product Viewed", properties={"product_id": f"sku-{n}"})
    segment.page(anonymous_id=reader, name="Story", properties={"path": "/blog/story"}, message_id="pv-story")
    segment.track(anonymous_id=reader, event="Page Engaged",
                  properties={"page_view_id": "pv-story", "dwell_ms": 200_000, "scroll_depth": 40})
    segment.track(anonymous_id=reader, event="Page Engaged",
                  properties={"page_view_id": "pv-story", "dwell_ms": 320_000, "scroll_depth": 90})
    decisions = await wait_decisions(deployed, viewer, lambda d: "three-product-views" in fired(d))
    assert fired(decisions) == ["three-product-views"]  # the first two views were not enough
    why = decisions[0]["why"]
    assert why['count("Product Viewed","10m")'] == 3
    assert decisions[0]["action"] == "recommendation_block" and decisions[0]["ids"] == [viewer]
    assert decisions[0]["trigger"]["name"] == "Product Viewed"
    decisions = await wait_decisions(deployed, reader, lambda d: "long-read" in fired(d))
    assert fired(decisions) == ["long-read"] and decisions[0]["why"]["page_dwell_s()"] == 320.0


async def test_conversion_signals_and_a_viewed_content(running):
    deployed, worker = running
    segment = client(worker)
    buyer = person()
    segment.page(anonymous_id=buyer, name="Sizing", properties={"path": "/guides/sizing"})
    segment.track(anonymous_id=buyer, event="Product Added", properties={"product_id": "sku-9", "price": 20})
    segment.track(anonymous_id=buyer, event="Checkout Started", properties={"products": [{"product_id": "sku-9"}]})
    segment.track(anonymous_id=buyer, event="Order Completed",
                  properties={"order_id": "o-1", "total": 20, "products": [{"product_id": "sku-9"}]})
    expected = ["added-to-cart", "purchased", "viewed-checkout", "viewed-sizing-guide"]
    decisions = await wait_decisions(deployed, buyer, lambda d: fired(d) == expected)
    # The checkout disarmed the cart-abandoned timer: it never fires for this person.
    await asyncio.sleep(6)
    assert fired(await decisions_of(deployed, buyer)) == expected
    status, body = await worker.get_json(f"/profiles/{buyer}")
    assert status == 200
    assert body["profile"]["traits"]["buyer"] is True and "buyers" in body["profile"]["segments"]
    assert len({d["decision_id"] for d in decisions}) == len(decisions)


async def test_cart_and_no_checkout_fires_on_time_without_another_event(running):
    deployed, worker = running
    shopper = person()
    client(worker).track(anonymous_id=shopper, event="Product Added", properties={"product_id": "sku-1"})
    started = time.monotonic()
    decisions = await wait_decisions(deployed, shopper, lambda d: "cart-abandoned" in fired(d))
    assert time.monotonic() - started >= 3.5  # not before its wait (4 s after the event)
    reminder = next(d for d in decisions if d["rule_id"] == "cart-abandoned")
    assert reminder["trigger"]["type"] == "timer" and reminder["block"] == "cart-reminder"


async def test_bounce_and_quick_exit_fire_when_the_session_ends(running):
    deployed, worker = running
    segment = client(worker)
    bouncer, leaver = person(), person()
    segment.page(anonymous_id=bouncer, name="Home", properties={"path": "/"})
    segment.page(anonymous_id=leaver, name="Home", properties={"path": "/"})
    segment.page(anonymous_id=leaver, name="Product", properties={"path": "/p/sku-3"})
    decisions = await wait_decisions(deployed, bouncer, lambda d: "bounced" in fired(d))
    assert decisions[0]["trigger"]["type"] == "session_end"
    decisions = await wait_decisions(deployed, leaver, lambda d: "quick-exit-from-product" in fired(d))
    assert "bounced" not in fired(decisions)  # two pages: no bounce
    status, body = await worker.get_json(f"/profiles/{bouncer}")
    assert "bounced" in body["profile"]["segments"]


async def test_a_long_product_read_then_accessories_gives_a_recommendation_block(running):
    deployed, worker = running
    segment = client(worker)
    shopper = person()
    segment.page(anonymous_id=shopper, name="Camera", properties={"path": "/p/camera", "page_type": "product"},
                 message_id="pv-camera")
    segment.track(anonymous_id=shopper, event="Page Engaged",
                  properties={"page_view_id": "pv-camera", "dwell_ms": 330_000, "scroll_depth": 80})
    segment.track(anonymous_id=shopper, event="Product Viewed",
                  properties={"product_id": "strap-1", "category": "accessories"})
    decisions = await wait_decisions(deployed, shopper, lambda d: "accessories-after-long-product-read" in fired(d))
    block = next(d for d in decisions if d["rule_id"] == "accessories-after-long-product-read")
    assert block["action"] == "recommendation_block" and block["block"] == "accessories"


async def test_admin_api_refuses_bad_rules_and_requests_without_the_token(running):
    _, worker = running
    status, body = await admin(worker, "POST", "/rules/validate", {**RULES[0], "when": "evnt.name == 1"})
    assert status == 422 and body["error"]["field"] == "when" and "evnt" in body["error"]["reason"]
    status, body = await admin(worker, "PUT", "/rules/three-product-views", {**RULES[0], "priority": 3})
    assert status == 409 and body["error"]["field"] == "version"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{worker.url}/rules") as answer:
            assert answer.status == 401
    status, body = await admin(worker, "GET", "/rules")
    assert {r["id"] for r in body["rules"]} == {r["id"] for r in RULES}


def basic(key: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


async def post(worker, path: str, authorization: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{worker.url}{path}", headers={"Authorization": authorization}) as answer:
            return answer.status, await answer.json(content_type=None)


async def wait_status(worker, path: str, status: int, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = await worker.get_json(path)
        if got == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {got} {body}, never {status}")
        await asyncio.sleep(0.25)


async def test_opted_out_persons_get_no_decisions_until_they_opt_in(running):
    deployed, worker = running
    segment = client(worker)
    shopper = person()
    own = f"Bearer {visitor_token(shopper)}"  # what the visitor's page holds, issued by the site's server
    segment.track(anonymous_id=shopper, event="Checkout Started", properties={})
    await wait_decisions(deployed, shopper, lambda d: fired(d) == ["viewed-checkout"])
    assert (await post(worker, f"/profiles/{shopper}/opt-out", basic("unknown")))[0] == 401
    assert (await post(worker, f"/profiles/{shopper}/opt-out", basic(WRITE_KEY)))[0] == 401  # a public key
    assert (await post(worker, f"/profiles/{shopper}/opt-out", f"Bearer {visitor_token(person())}"))[0] == 403
    status, body = await post(worker, f"/profiles/{shopper}/opt-out", own)
    assert (status, body["command"]) == (202, "opt_out")
    await wait_status(worker, f"/profiles/{shopper}", 200)
    deadline = time.monotonic() + 20
    while (await worker.get_json(f"/profiles/{shopper}"))[1]["profile"]["consent"]["personalization"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.25)
    segment.track(anonymous_id=shopper, event="Checkout Started", properties={})
    segment.track(anonymous_id=shopper, event="Product Viewed", properties={"product_id": "x"})
    await wait_status(worker, f"/profiles/{shopper}", 200)
    deadline = time.monotonic() + 20
    while (await worker.get_json(f"/profiles/{shopper}"))[1]["profile"]["events"] < 3:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.25)
    assert fired(await decisions_of(deployed, shopper)) == ["viewed-checkout"]  # nothing while opted out
    status, body = await post(worker, f"/profiles/{shopper}/opt-in", basic(WRITE_KEY))  # would undo a consent
    assert status == 401 and body["error"]["field"] == "Authorization"
    assert (await post(worker, f"/profiles/{shopper}/opt-in", own))[0] == 202
    deadline = time.monotonic() + 20
    while not (await worker.get_json(f"/profiles/{shopper}"))[1]["profile"]["consent"]["personalization"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.25)
    segment.track(anonymous_id=shopper, event="Checkout Started", properties={})
    await wait_decisions(deployed, shopper, lambda d: fired(d) == ["viewed-checkout", "viewed-checkout"])


async def test_reset_restarts_personalization_from_nothing(running):
    deployed, worker = running
    segment = client(worker)
    buyer = person()
    segment.track(anonymous_id=buyer, event="Product Viewed", properties={"product_id": "a", "category": "shoes"})
    segment.track(anonymous_id=buyer, event="Order Completed",
                  properties={"order_id": "o", "total": 5, "products": [{"product_id": "a"}]})
    await wait_decisions(deployed, buyer, lambda d: "purchased" in fired(d))
    body = await wait_status(worker, f"/profiles/{buyer}", 200)
    assert body["profile"]["segments"] == ["buyers"] and body["profile"]["affinities"]["category"]
    assert (await post(worker, f"/profiles/{buyer}/reset", basic(WRITE_KEY)))[0] == 401
    assert (await post(worker, f"/profiles/{buyer}/reset", f"Bearer {visitor_token(buyer)}"))[0] == 202
    deadline = time.monotonic() + 20
    while (body := (await worker.get_json(f"/profiles/{buyer}"))[1])["profile"]["segments"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.25)
    assert body["profile"]["affinities"]["category"] == {} and body["profile"]["recently_viewed"] == []
    assert body["windows"] == {} and body["session"] is None


async def test_forget_removes_the_person_everywhere_and_a_restart_does_not_bring_it_back(broker, tmp_path):
    deployed = deployment(broker, tmp_path)
    try:
        worker = deployed.worker("forget").start()
        await worker.wait_ready()
        segment = client(worker)
        run = uuid.uuid4().hex[:8]
        phone, user, other = f"phone-{run}", f"user-{run}", f"other-{run}"
        segment.track(anonymous_id=phone, event="Product Viewed", properties={"product_id": "a"})
        segment.identify(user_id=user, anonymous_id=phone, traits={"email_domain": "example.org"})
        segment.track(user_id=user, event="Product Viewed", properties={"product_id": "b"})
        segment.track(anonymous_id=other, event="Product Viewed", properties={"product_id": "c"})
        deadline = time.monotonic() + 40
        while True:
            status, body = await worker.get_json(f"/profiles/{user}")
            if status == 200 and body["profile"]["events"] == 3 and sorted(body["ids"]) == sorted([user, phone]):
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.25)
        await wait_status(worker, f"/ids/{phone}", 200)
        await wait_status(worker, f"/persons/{phone}", 200)  # the tombstone of the anonymous person

        async with aiohttp.ClientSession() as http:
            async with http.delete(f"{worker.url}/profiles/{phone}") as answer:
                assert answer.status == 401  # forgetting takes the admin token
        status, _ = await admin(worker, "DELETE", f"/profiles/{phone}")
        assert status == 202

        gone = [f"/profiles/{user}", f"/profiles/{phone}", f"/persons/{user}", f"/persons/{phone}", f"/ids/{phone}"]
        for path in gone:
            await wait_status(worker, path, 404)
        await wait_status(worker, f"/profiles/{other}", 200)  # somebody else is untouched

        assert worker.stop() == 0
        again = deployed.worker("forget-again", data_dir=worker.data_dir).start()
        await again.wait_ready()
        for path in gone:
            assert (await again.get_json(path))[0] == 404, path
        assert (await again.get_json(f"/profiles/{other}"))[0] == 200
        # A worker with no local state rebuilds the tables from their changelogs: the tombstones hold.
        assert again.stop() == 0
        fresh = deployed.worker("forget-fresh").start()
        await fresh.wait_ready()
        assert (await wait_status(fresh, f"/profiles/{other}", 200))["profile"]["events"] == 1
        for path in gone:
            assert (await fresh.get_json(path))[0] == 404, path
    finally:
        deployed.shutdown()


async def test_a_page_receives_its_decisions_as_server_sent_events(running):
    deployed, worker = running
    visitor = person()
    received: list[dict] = []

    async def listen() -> None:
        async with aiohttp.ClientSession() as http:
            # EventSource sends no headers: the page passes its visitor token in the query.
            async with http.get(f"{worker.url}/decisions/{visitor}/stream",
                                params={"access_token": visitor_token(visitor)}) as stream:
                assert stream.headers["Content-Type"].startswith("text/event-stream")
                event = {}
                async for raw in stream.content:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        event["event"] = line[7:]
                    elif line.startswith("id: "):
                        event["id"] = line[4:]
                    elif line.startswith("data: "):
                        event["data"] = orjson.loads(line[6:])
                    elif not line and "data" in event:
                        received.append(event)
                        return

    listening = asyncio.create_task(listen())
    await asyncio.sleep(1.0)  # the stream is open before the event is sent
    client(worker).track(anonymous_id=visitor, event="Checkout Started", properties={})
    await asyncio.wait_for(listening, 30)
    (event,) = received
    assert event["event"] == "decision" and event["data"]["rule_id"] == "viewed-checkout"
    assert event["id"] == event["data"]["decision_id"] and event["data"]["ids"] == [visitor]


async def test_the_rules_cli_applies_lists_disables_and_deletes(running, tmp_path):
    deployed, worker = running
    rule = tmp_path / "cli-rule.yaml"
    rule.write_text("id: cli-rule\nversion: 1\ndescription: from the CLI\nwhen: event.name == \"Wishlist Added\"\n"
                    "actions: [{type: add_segment, segment: wishers}]\n")

    async def cli(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "faust"), "-A", "app", "rules", *args, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), **worker.env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await process.communicate()
        return process.returncode, out.decode()

    assert (await cli("validate", str(rule)))[0] == 0
    code, out = await cli("apply", str(rule))
    assert code == 0 and "created" in out
    code, out = await cli("apply", str(rule))
    assert code == 0 and "unchanged" in out
    status, body = await admin(worker, "GET", "/rules/cli-rule")  # every worker follows the rules topic
    deadline = time.monotonic() + 15
    while status != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        status, body = await admin(worker, "GET", "/rules/cli-rule")
    assert status == 200 and body["description"] == "from the CLI"
    code, out = await cli("disable", "cli-rule")
    assert code == 0 and "disabled" in out
    code, out = await cli("list")
    assert "cli-rule" in out and "disabled" in out
    assert (await cli("delete", "cli-rule"))[0] == 0
    code, out = await cli("delete", "cli-rule")
    assert code == 2 and "no rule" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nversion: 1\ndescription: x\nwhen: 'evnt.name == 1'\nactions: [{type: add_segment, segment: s}]\n")
    code, out = await cli("validate", str(bad))
    assert code == 2 and "when: unknown variable 'evnt'" in out


async def test_trending_items_and_categories_across_persons(running):
    _, worker = running
    segment = client(worker)
    run = uuid.uuid4().hex[:6]
    hot, warm, cold = f"hot-{run}", f"warm-{run}", f"cold-{run}"
    for n in range(6):  # six persons, spread over the partitions
        who = person()
        segment.track(anonymous_id=who, event="Product Viewed", properties={"product_id": hot, "category": f"cat-{run}"})
        if n < 3:
            segment.track(anonymous_id=who, event="Product Viewed", properties={"product_id": warm})
    segment.track(anonymous_id=person(), event="Product Added", properties={"product_id": hot})
    segment.track(anonymous_id=person(), event="Product Viewed", properties={"product_id": cold})

    deadline = time.monotonic() + 30
    while True:
        status, body = await worker.get_json("/trending?kind=item&limit=100")
        assert status == 200
        ranked = [entry["id"] for entry in body["trending"] if entry["id"].endswith(run)]
        if ranked == [hot, warm, cold]:
            break
        assert time.monotonic() < deadline, ranked
        await asyncio.sleep(0.5)
    scores = {entry["id"]: entry["score"] for entry in body["trending"]}
    assert scores[hot] == pytest.approx(6 + 3, rel=0.01)  # six views and one add to cart (weight 3)
    status, body = await worker.get_json("/trending?kind=category&limit=100")
    assert f"cat-{run}" in [entry["id"] for entry in body["trending"]]
    assert (await worker.get_json("/trending?kind=brand"))[0] == 400


async def test_a_timer_armed_before_a_kill_9_fires_after_the_restart(broker, tmp_path):
    deployed = deployment(broker, tmp_path)
    try:
        first = deployed.worker("first").start()
        await first.wait_ready()
        rule = next(r for r in RULES if r["id"] == "cart-abandoned")
        assert (await admin(first, "PUT", f"/rules/{rule['id']}", {**rule, "wait": "8s"}))[0] == 200
        shopper = person()
        client(first).track(anonymous_id=shopper, event="Product Added", properties={"product_id": "sku-1"})
        deadline = time.monotonic() + 20
        while True:  # the timer is armed and stored
            status, state = await first.get_json(f"/persons/{shopper}")
            if status == 200 and (state.get("rules") or {}).get("timers"):
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
        first.kill()
        second = deployed.worker("second", data_dir=first.data_dir).start()
        await second.wait_ready()
        decisions = await wait_decisions(deployed, shopper, lambda d: "cart-abandoned" in fired(d), timeout=60)
        assert [d["trigger"]["type"] for d in decisions] == ["timer"]
    finally:
        deployed.shutdown()
