"""The browser tracker in headless Chromium against a real worker: what reaches Kafka, and what must not."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Callable

import aiohttp
import orjson
import pytest

from tests.support.browser import chromium, first_page, set_window_state, wait_visibility
from tests.support.kafka import consume_all
from tests.support.worker import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.browser]

WRITE_KEY = "browser-write-key"
TOLERANCE_MS = 300
HIDDEN_S = 2.0


@pytest.fixture(scope="module")
async def site(broker, tmp_path_factory):
    deployment = Deployment(broker, tmp_path_factory.mktemp("tracker"), TASTEMAKER_WRITE_KEYS=f"{WRITE_KEY}=web")
    worker = deployment.worker("tracker")
    # http://localhost:<port> is another origin than http://127.0.0.1:<port>: the cross-origin embed.
    worker.env["TASTEMAKER_CORS_ORIGINS"] = f"http://localhost:{worker.port}"
    await worker.start().wait_ready()
    yield deployment, worker
    deployment.shutdown()


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


def demo_url(worker, **params: str) -> str:
    """The demo page with a unique ``probe`` parameter: every message it sends carries it in context.page.url,
    which tells this test's messages from the other tests' on the shared topics."""
    query = {"writeKey": WRITE_KEY, "probe": uuid.uuid4().hex, **params}
    return f"{worker.url}/demo?" + "&".join(f"{k}={v}" for k, v in query.items())


async def records(deployment: Deployment, topic: str, probe_url: str) -> list[dict]:
    values = [orjson.loads(v) for _k, v in await consume_all(deployment.broker, deployment.topic(topic), 0.5)]
    return [v for v in values if v.get("context", {}).get("page", {}).get("url") == probe_url]


async def wait_for(
    deployment: Deployment, topic: str, probe_url: str, done: Callable[[list[dict]], bool], timeout: float = 30.0
) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = await records(deployment, topic, probe_url)
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic}: expected messages did not arrive in {timeout}s; got {found}")
        await asyncio.sleep(0.2)


def engaged(found: list[dict], reason: str) -> list[dict]:
    hits = [r for r in found if r.get("event") == "Page Engaged" and r["properties"]["reason"] == reason]
    return sorted(hits, key=lambda r: r["properties"]["dwell_ms"])


async def hide(page) -> None:
    await set_window_state(page, "minimized")
    await wait_visibility(page, "hidden")


async def show(page) -> None:
    await set_window_state(page, "normal")
    await wait_visibility(page, "visible")


async def test_tracker_script_and_demo_are_served(site):
    _deployment, worker = site
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{worker.url}/tracker.js") as r:
            script = await r.text()
            assert r.status == 200
            assert r.headers["Content-Type"] == "application/javascript; charset=utf-8"
            assert r.headers["Cache-Control"] == "public, max-age=300"
            etag = r.headers["ETag"]
            assert "window.tastemaker" in script
        async with http.get(f"{worker.url}/tracker.js", headers={"If-None-Match": etag}) as r:
            assert r.status == 304
            assert await r.read() == b""
        async with http.get(f"{worker.url}/tracker.js", headers={"If-None-Match": '"other"'}) as r:
            assert r.status == 200
        async with http.get(f"{worker.url}/demo") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert '<script src="/tracker.js">' in await r.text()


async def test_page_view_click_and_visible_engagement_reach_their_topics(site, browser):
    deployment, worker = site
    page = await first_page(browser)
    url = demo_url(worker, utm_campaign="spring", utm_source="newsletter", heartbeatInterval="1000")

    before_load = time.monotonic()
    await page.goto(url)
    loaded = time.monotonic()
    anonymous_id = await page.evaluate("localStorage.getItem('tm_anon_id')")
    assert anonymous_id and f"tm_anon_id={anonymous_id}" in await page.evaluate("document.cookie")

    await asyncio.sleep(1.5)  # visible time the tracker must count
    depth = None
    for fraction in (0.5, 0.75):
        depth = await page.evaluate(
            """f => {
                 const el = document.documentElement;
                 window.scrollTo(0, f * el.scrollHeight - window.innerHeight);
                 return Math.round((window.scrollY + window.innerHeight) / el.scrollHeight * 100);
               }""",
            fraction,
        )
    assert 70 <= depth <= 80
    await page.click('[data-tm-item="p-3"] b')  # an element inside the item: found through closest()
    await asyncio.sleep(0.5)

    hiding = time.monotonic()
    await hide(page)
    hidden = time.monotonic()
    await asyncio.sleep(HIDDEN_S)  # hidden time the tracker must not count
    showing = time.monotonic()
    await show(page)
    shown = time.monotonic()
    await asyncio.sleep(1.0)
    hiding_again = time.monotonic()
    await hide(page)
    hidden_again = time.monotonic()

    clicks = await wait_for(
        deployment, "clickstream", url,
        lambda found: any(r["type"] == "page" for r in found) and any(r.get("event") == "Product Clicked" for r in found),
    )
    engagement = await wait_for(deployment, "engagement_metrics", url, lambda found: len(engaged(found, "hidden")) == 2)

    (view,) = [r for r in clicks if r["type"] == "page"]
    assert view["anonymousId"] == anonymous_id and view["source"] == "web"
    assert view["properties"]["path"] == "/demo"
    assert view["properties"]["title"] == "Tastemaker tracker demo"
    assert view["properties"]["search"].startswith("?writeKey=")
    context = view["context"]
    assert context["page"]["path"] == "/demo"
    assert context["library"]["name"] == "tastemaker.js"
    assert context["campaign"] == {"name": "spring", "source": "newsletter"}
    assert context["locale"] and "HeadlessChrome" not in context["userAgent"]

    shows = {r["properties"]["block_id"]: r for r in clicks if r.get("event") == "Recommendation Shown"}
    assert shows["home-recommended"]["properties"]["products"] == [{"product_id": f"p-{n}"} for n in (1, 2, 3)]
    assert "far-below" not in shows  # at the bottom of the page, never scrolled to
    (click,) = [r for r in clicks if r.get("event") == "Product Clicked"]
    assert click["properties"] == {"product_id": "p-3", "block_id": "home-recommended"}
    assert click["anonymousId"] == anonymous_id

    first, final = engaged(engagement, "hidden")
    for event in (first, final):
        assert event["anonymousId"] == anonymous_id
        assert event["properties"]["page_view_id"] == view["messageId"]
        assert abs(event["properties"]["scroll_depth"] - depth) <= 1
    visible_ms = (hiding - loaded) * 1000, (hidden - before_load) * 1000
    assert visible_ms[0] - TOLERANCE_MS <= first["properties"]["dwell_ms"] <= visible_ms[1] + TOLERANCE_MS
    # The final dwell adds the second visible period only: the hidden seconds in between are not in it.
    visible_again_ms = (hiding_again - shown) * 1000, (hidden_again - showing) * 1000
    added = final["properties"]["dwell_ms"] - first["properties"]["dwell_ms"]
    assert visible_again_ms[0] - TOLERANCE_MS <= added <= visible_again_ms[1] + TOLERANCE_MS
    assert final["properties"]["dwell_ms"] < visible_ms[1] + visible_again_ms[1] + HIDDEN_S * 1000 - TOLERANCE_MS

    heartbeats = engaged(engagement, "interval")
    assert len(heartbeats) >= 1  # every second while visible
    assert all(h["properties"]["page_view_id"] == view["messageId"] for h in heartbeats)
    assert all(h["properties"]["dwell_ms"] <= final["properties"]["dwell_ms"] for h in heartbeats)

    # Through the stream stages: the visitor's profile holds the page view, the click and every heartbeat,
    # from a desktop browser (a headless user agent would have been kept out as a bot).
    expected = {"page": 1, "Product Clicked": 1, "Page Engaged": len(engaged(engagement, "hidden")) + len(heartbeats),
                "Recommendation Shown": len(shows)}
    for _ in range(200):
        status, body = await worker.get_json(f"/profiles/{anonymous_id}")
        if status == 200 and body["profile"]["counts"] == expected:
            break
        await asyncio.sleep(0.2)
    assert status == 200 and body["profile"]["counts"] == expected, body
    assert body["profile"]["devices"] == {"desktop": sum(expected.values())}


async def test_each_block_is_reported_shown_once_per_page_view_when_half_visible(site, browser):
    deployment, worker = site
    page = await first_page(browser)
    url = demo_url(worker)
    await page.goto(url)
    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")  # the bottom block
    await asyncio.sleep(0.5)
    await page.evaluate("window.scrollTo(0, 0)")
    await asyncio.sleep(0.3)
    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")  # seen again: not re-sent
    await page.evaluate("""() => {  // a block rendered later, client-side
        const block = document.createElement('section');
        block.dataset.tmBlock = 'rendered-later';
        block.innerHTML = '<button data-tm-item="p-8">Product 8</button>';
        document.body.appendChild(block);
    }""")
    found = await wait_for(deployment, "clickstream", url, lambda found: {"far-below", "rendered-later"} <= {
        r["properties"].get("block_id") for r in found if r.get("event") == "Recommendation Shown"})
    await asyncio.sleep(1.5)  # time for a repeat to arrive, if the tracker sent one
    found = await records(deployment, "clickstream", url)
    shows = [r["properties"] for r in found if r.get("event") == "Recommendation Shown"]
    by_block = {}
    for show in shows:
        by_block.setdefault(show["block_id"], []).append(show["products"])
    assert by_block == {"home-recommended": [[{"product_id": f"p-{n}"} for n in (1, 2, 3)]],
                        "home-trending": [[{"product_id": "p-4"}]],
                        "far-below": [[{"product_id": "p-6"}, {"product_id": "p-7"}]],
                        "rendered-later": [[{"product_id": "p-8"}]]}


@pytest.mark.parametrize("signal", ["doNotTrack", "globalPrivacyControl"])
async def test_do_not_track_sends_and_stores_nothing(site, browser, signal):
    deployment, worker = site
    page = await first_page(browser)
    value = "'1'" if signal == "doNotTrack" else "true"
    await page.add_init_script(f"Object.defineProperty(Navigator.prototype, '{signal}', {{get: () => {value}}})")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if "/v1/" in request.url else None)
    url = demo_url(worker)

    await page.goto(url)
    await page.click('[data-tm-item="p-1"]')
    await page.evaluate("tastemaker.track('Probe'); tastemaker.identify('dnt-user'); tastemaker.consent(true)")
    stored = await page.evaluate("[localStorage.length, document.cookie]")
    await hide(page)

    # A page without the signal, in the same browser, is the control: once its messages are stored, the
    # first page's would be too, had it sent any.
    control = await browser.contexts[0].new_page()
    control_url = demo_url(worker)
    await control.goto(control_url)
    await control.evaluate("tastemaker.track('Probe')")
    await wait_for(deployment, "clickstream", control_url, lambda found: any(r.get("event") == "Probe" for r in found))

    assert stored == [0, ""]
    assert posts == []
    for topic in ("clickstream", "engagement_metrics", "identities"):
        assert await records(deployment, topic, url) == []


async def test_nothing_is_sent_before_consent_and_nothing_after_it_is_withdrawn(site, browser):
    deployment, worker = site
    page = await first_page(browser)
    posts = []
    page.on("request", lambda request: posts.append(request.url) if "/v1/" in request.url else None)
    url = demo_url(worker, requireConsent="1")

    await page.goto(url)
    await page.click('[data-tm-item="p-2"]')
    await page.evaluate("tastemaker.track('Before Consent'); tastemaker.identify('consent-user')")
    assert await page.evaluate("[localStorage.length, document.cookie]") == [0, ""]  # nothing queued or stored

    await page.click("#consent-yes")
    await page.click('[data-tm-item="p-4"]')
    await page.evaluate("tastemaker.track('After Consent')")
    found = await wait_for(
        deployment, "clickstream", url,
        lambda found: {"After Consent", "Product Clicked"} <= {r.get("event") for r in found},
    )
    assert posts
    assert [r["type"] for r in found if r["type"] == "page"] == ["page"]  # the page view, sent on consent
    assert [r["properties"] for r in found if r.get("event") == "Product Clicked"] == [
        {"product_id": "p-4", "block_id": "home-trending"}
    ]
    assert "Before Consent" not in {r.get("event") for r in found}
    assert await records(deployment, "identities", url) == []

    await page.click("#consent-no")
    # Withdrawal forgets the identifiers and the queue; later calls queue nothing.
    after = await page.evaluate("tastemaker.track('After Withdrawal'); [localStorage.length, document.cookie]")
    assert after == [0, ""]


async def test_failed_batches_are_retried_and_survive_a_reload(site, browser):
    deployment, worker = site
    page = await first_page(browser)
    attempts: list[dict] = []
    collector_up = False

    async def collector(route):
        attempts.append(orjson.loads(route.request.post_data))
        if collector_up:
            await route.continue_()
        else:
            await route.fulfill(status=503, content_type="application/json", body='{"code":"unavailable"}')

    await page.route("**/v1/batch", collector)
    url = demo_url(worker)
    await page.goto(url)
    first_view = await page.evaluate("JSON.parse(localStorage.getItem('tm_queue'))[0]")
    assert first_view["type"] == "page"
    await page.evaluate("tastemaker.track('Queued While Down')")
    await wait_until(lambda: len(attempts) >= 2)  # a retry after backoff, with the same message
    assert all(first_view["messageId"] in {m["messageId"] for m in a["batch"]} for a in attempts)

    await page.reload()  # the queue is in localStorage: the next page sends it
    second_view = await page.evaluate("JSON.parse(localStorage.getItem('tm_queue'))")
    assert first_view["messageId"] in {m["messageId"] for m in second_view}
    collector_up = True

    found = await wait_for(
        deployment, "clickstream", url,
        lambda found: len([r for r in found if r["type"] == "page"]) == 2 and any(r.get("event") for r in found),
    )
    # The beacon of the reload's pagehide escapes Playwright's interception and may store them already; the
    # tracker keeps beaconed messages while the collector fails, and the pipeline drops a repeated messageId.
    assert first_view["messageId"] in {r["messageId"] for r in found}
    assert "Queued While Down" in {r.get("event") for r in found}


async def test_a_site_on_another_origin_posts_without_preflight(site, browser):
    deployment, worker = site
    page = await first_page(browser)
    methods = []
    page.on("request", lambda request: methods.append(request.method) if "/v1/" in request.url else None)
    site_url = demo_url(worker, host=worker.url).replace("127.0.0.1", "localhost", 1)
    await page.goto(site_url)
    await page.evaluate("tastemaker.track('Cross Origin')")

    await wait_for(deployment, "clickstream", site_url, lambda found: any(r.get("event") == "Cross Origin" for r in found))
    # The answer was readable (CORS headers on the POST), so the tracker took the events off its queue.
    await wait_until_async(lambda: page.evaluate("localStorage.getItem('tm_queue') === null"))
    assert set(methods) == {"POST"}


async def test_refused_batches_are_dropped_with_a_warning(site, browser):
    _deployment, worker = site
    page = await first_page(browser)
    warnings = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    await page.route("**/v1/batch", lambda route: route.fulfill(status=400, body="{}"))
    await page.goto(demo_url(worker))
    await wait_until(lambda: warnings)
    assert "HTTP 400" in warnings[0] and "dropped" in warnings[0]
    # Every refused batch is dropped, not kept for a retry: the queue empties (the blocks' shows, queued
    # just after the first batch left, are refused and dropped in the next one).
    await wait_until_async(lambda: page.evaluate("localStorage.getItem('tm_queue') === null"))
    assert all("HTTP 400" in warning and "dropped" in warning for warning in warnings)


async def wait_until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


async def wait_until_async(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)
