"""The item catalog end to end: the items API and the bulk import against real workers and a real broker;
every worker follows the compacted items topic, and one started later replays it."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import aiohttp
import orjson
import pytest

from tests.support.kafka import produce
from tests.support.worker import ADMIN_TOKEN, READ_TOKEN, REPO, Deployment

pytestmark = pytest.mark.integration

TOKEN = ADMIN_TOKEN


async def call(worker, method: str, path: str, body=None, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = body if isinstance(body, (bytes, type(None))) else orjson.dumps(body)
    async with aiohttp.ClientSession() as http:
        async with http.request(method, f"{worker.url}{path}", headers=headers, data=data) as answer:
            return answer.status, await answer.json(content_type=None)


async def wait_for(worker, path: str, status: int, check=lambda body: True, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = await worker.get_json(path)
        if got == status and check(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{worker.name} {path}: {got} {body}, never {status}")
        await asyncio.sleep(0.1)


async def cli(worker, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "faust"), "-A", "app", "items", *args, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **worker.env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    return process.returncode, out.decode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def running(broker, tmp_path_factory):
    deployed = Deployment(broker, tmp_path_factory.mktemp("catalog"))
    first, second = deployed.worker("first").start(), deployed.worker("second").start()
    try:
        await asyncio.gather(first.wait_ready(), second.wait_ready())
        yield deployed, first, second
    finally:
        deployed.shutdown()


async def test_an_item_put_on_one_worker_is_read_on_every_worker(running):
    _, first, second = running
    item_id = unique("shoe")
    shoe = {"title": "Trail shoe", "categories": ["shoes", "running"], "tags": ["waterproof"], "brand": "Acme",
            "price": 89.9, "currency": "EUR", "created_at": "2026-11-01T10:00:00Z", "attributes": {"color": "red"}}
    status, body = await call(first, "PUT", f"/items/{item_id}", shoe)
    assert status == 200 and body["change"] == "created"
    expected = {**shoe, "item_id": item_id, "available": True, "created_at": 1_793_527_200_000}
    assert body["item"] == expected
    assert await first.get_json(f"/items/{item_id}") == (200, expected)  # visible here once answered
    assert await wait_for(second, f"/items/{item_id}", 200) == expected

    assert (await call(first, "PUT", f"/items/{item_id}", shoe))[1]["change"] == "unchanged"
    status, body = await call(second, "PUT", f"/items/{item_id}", {**shoe, "price": "79.90", "available": False})
    assert (status, body["change"]) == (200, "updated")
    await wait_for(first, f"/items/{item_id}", 200, lambda i: i["price"] == 79.9 and i["available"] is False)

    listed = await wait_for(second, "/items?category=running&brand=Acme&limit=1000", 200,
                            lambda b: item_id in [i["item_id"] for i in b["items"]])
    assert all("running" in i["categories"] and i["brand"] == "Acme" for i in listed["items"])
    page = (await first.get_json("/items?limit=1"))[1]
    assert len(page["items"]) == 1 and page["total"] >= 1
    following = (await first.get_json(f"/items?limit=1&after={page['items'][0]['item_id']}"))[1]["items"]
    assert not following or following[0]["item_id"] > page["items"][0]["item_id"]
    assert (await first.get_json("/items?limit=0"))[1]["error"]["field"] == "limit"


async def test_a_deleted_item_is_gone_from_every_worker(running):
    _, first, second = running
    item_id = quote(unique("bags/café"), safe="")  # any id: a slash or accents are escaped in the path
    assert (await call(first, "PUT", f"/items/{item_id}", {"title": "Bag"}))[0] == 200
    await wait_for(second, f"/items/{item_id}", 200)
    status, body = await call(second, "DELETE", f"/items/{item_id}")
    assert (status, body) == (200, {"item_id": unquote(item_id), "change": "deleted"})
    assert (await second.get_json(f"/items/{item_id}"))[0] == 404
    body = await wait_for(first, f"/items/{item_id}", 404)
    assert body["error"] == {"status": 404, "field": "item_id", "reason": f"no item {unquote(item_id)!r}"}
    assert (await call(first, "DELETE", f"/items/{item_id}"))[0] == 404


async def test_any_producer_may_write_the_items_topic_and_a_bad_record_removes_the_item(running):
    deployed, first, second = running
    item_id = unique("direct")
    topic = deployed.topic("items")
    await produce(deployed.broker, topic, [{"item_id": item_id, "title": "From Kafka", "price": "3"}],
                  key=item_id.encode())
    for worker in (first, second):
        assert (await wait_for(worker, f"/items/{item_id}", 200))["price"] == 3.0
    # Not an item: the latest record of a key decides, as it will once compaction kept only that one.
    await produce(deployed.broker, topic, [{"item_id": item_id, "price": -1}], key=item_id.encode())
    for worker in (first, second):
        await wait_for(worker, f"/items/{item_id}", 404)


@pytest.mark.parametrize("body, field", [
    ({"price": -5}, "price"),
    ({"price": "cheap"}, "price"),
    ({"categories": "ok", "tags": [1, 2]}, "tags"),
    ({"created_at": "last tuesday"}, "created_at"),
    ({"available": "perhaps"}, "available"),
    ({"catgories": ["typo"]}, "catgories"),
    ({"item_id": "another-id"}, "item_id"),
    (b'{"title": "broken', None),
    (b"", None),
])
async def test_a_bad_item_is_refused_with_400_naming_the_field(running, body, field):
    _, first, _ = running
    item_id = unique("bad")
    status, answer = await call(first, "PUT", f"/items/{item_id}", body)
    assert status == 400 and answer["error"]["status"] == 400 and answer["error"]["field"] == field, answer
    assert answer["error"]["reason"]
    assert (await first.get_json(f"/items/{item_id}"))[0] == 404  # nothing written


async def test_a_large_item_is_taken_and_one_over_32_kb_is_413(running):
    _, first, second = running
    item_id = unique("large")
    attributes = {f"a{n}": "x" * 150 for n in range(100)}  # ~15.6 KB, under the 16 KB of attributes
    status, body = await call(first, "PUT", f"/items/{item_id}", {"title": "t" * 1000, "attributes": attributes})
    assert status == 200, body
    assert (await wait_for(second, f"/items/{item_id}", 200))["attributes"] == attributes
    status, body = await call(first, "PUT", f"/items/{item_id}", {"attributes": {"a": "x" * 40_000}})
    assert status == 413 and body["error"]["status"] == 413


async def test_writes_take_the_admin_token_and_reads_do_not(running):
    _, first, _ = running
    item_id = unique("locked")
    for token in (None, "wrong-token"):
        status, body = await call(first, "PUT", f"/items/{item_id}", {"title": "x"}, token=token)
        assert status == 401 and body["error"]["field"] == "Authorization"
    status, body = await call(first, "PUT", f"/items/{item_id}", {"title": "x"}, token=READ_TOKEN)
    assert status == 403 and body["error"]["field"] == "Authorization"  # the read scope does not write
    assert (await call(first, "PUT", f"/items/{item_id}", {"title": "x"}))[0] == 200
    assert (await call(first, "DELETE", f"/items/{item_id}", token=None))[0] == 401
    assert (await call(first, "DELETE", f"/items/{item_id}", token="wrong-token"))[0] == 401
    assert (await call(first, "GET", f"/items/{item_id}", token=None))[0] == 200
    assert (await call(first, "GET", "/items", token=None))[0] == 200


async def test_bulk_import_of_json_lines_and_csv_reports_bad_lines_and_imports_the_rest(running, tmp_path):
    _, first, second = running
    run = uuid.uuid4().hex[:8]
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join([
        orjson.dumps({"item_id": f"j1-{run}", "title": "One", "categories": [f"cat-{run}"], "price": 10}).decode(),
        orjson.dumps({"item_id": f"j2-{run}", "title": "Two", "price": -3}).decode(),  # line 2: refused
        "",
        orjson.dumps({"item_id": f"j3-{run}", "title": "Three", "categories": [f"cat-{run}"]}).decode(),
        "{not json",  # line 5: refused
    ]) + "\n")
    code, out = await cli(first, "import", str(jsonl))
    assert code == 1, out
    assert "line 2: price: price must not be negative (got -3)" in out and "line 5: not valid JSON" in out
    assert "imported 2 items (2 created, 0 updated, 0 unchanged), 2 lines refused" in out

    csv = tmp_path / "items.csv"
    csv.write_text("item_id,title,categories,tags,brand,price,currency,available,created_at,attributes.color\n"
                   f'c1-{run},"Shoe, trail",cat-{run},"waterproof,light",Acme,89.90,eur,true,2026-01-01T00:00:00Z,red\n'
                   f"c2-{run},Sock,cat-{run},,Acme,abc,,,,\n"  # line 3: refused
                   f"c3-{run},Cap,cat-{run},,,5,,no,,blue\n")
    code, out = await cli(first, "import", str(csv))
    assert code == 1 and "line 3: price: price must be a number" in out, out
    assert "imported 2 items (2 created" in out

    for worker in (first, second):
        listed = await wait_for(worker, f"/items?category=cat-{run}", 200, lambda b: len(b["items"]) == 4)
        assert [i["item_id"] for i in listed["items"]] == [f"c1-{run}", f"c3-{run}", f"j1-{run}", f"j3-{run}"]
    shoe = (await second.get_json(f"/items/c1-{run}"))[1]
    assert shoe["title"] == "Shoe, trail" and shoe["tags"] == ["waterproof", "light"] and shoe["currency"] == "EUR"
    assert shoe["attributes"] == {"color": "red"} and shoe["created_at"] == 1_767_225_600_000
    assert (await second.get_json(f"/items/c3-{run}"))[1]["available"] is False
    for missing in (f"j2-{run}", f"c2-{run}"):
        assert (await second.get_json(f"/items/{missing}"))[0] == 404

    code, out = await cli(first, "import", str(csv), "--json")  # again: nothing changed, nothing written
    report = orjson.loads(out[out.index("{"):])
    assert code == 1 and (report["created"], report["updated"], report["unchanged"]) == (0, 0, 2)
    assert report["refused"] == [{"line": 3, "field": "price", "reason": "price must be a number"}]

    code, out = await cli(first, "delete", f"j1-{run}")
    assert code == 0 and f"deleted  j1-{run}" in out
    await wait_for(second, f"/items/j1-{run}", 404)
    code, out = await cli(first, "delete", f"j1-{run}")
    assert code == 2 and "no item" in out
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("item_id,colour\nx,red\n")
    code, out = await cli(first, "import", str(bad_header))
    assert code == 2 and "unknown column 'colour'" in out


async def test_a_worker_started_later_reads_the_whole_catalog(running):
    deployed, first, _ = running
    run = uuid.uuid4().hex[:8]
    for n in range(30):
        assert (await call(first, "PUT", f"/items/late-{run}-{n:02d}", {"categories": [f"late-{run}"], "price": n}))[0] == 200
    assert (await call(first, "PUT", f"/items/late-{run}-00", {"categories": [f"late-{run}"], "price": 100}))[0] == 200
    assert (await call(first, "DELETE", f"/items/late-{run}-01"))[0] == 200
    total = (await first.get_json("/items?limit=1"))[1]["total"]

    late = deployed.worker("late").start()
    await late.wait_ready()
    deadline = time.monotonic() + 30
    while (status := (await late.get_json("/items?limit=1"))[0]) == 503:  # still reading the topic
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    # Once it answers, it has read the topic to its end: everything, at once, no polling.
    status, body = await late.get_json(f"/items?category=late-{run}&limit=1000")
    assert status == 200 and body["total"] == total
    assert len(body["items"]) == 29 and f"late-{run}-01" not in [i["item_id"] for i in body["items"]]
    assert (await late.get_json(f"/items/late-{run}-00"))[1]["price"] == 100.0
    assert (await late.get_json(f"/items/late-{run}-01"))[0] == 404
