"""app/web/openapi.json: valid OpenAPI 3.1, the same routes and methods as the app registers, and the
conventions every operation keeps (its security stated, 401/403 where credentials are needed, one error
shape, Retry-After where clients are told to come back). No Kafka: the app is imported in a subprocess and
its aiohttp router listed without starting a worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.support.kafka import REPO

DOCUMENT_PATH = REPO / "app" / "web" / "openapi.json"
DOCUMENT = json.loads(DOCUMENT_PATH.read_text())
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
ERROR_SCHEMAS = {"#/components/schemas/Error", "#/components/schemas/CollectorError", "#/components/schemas/FaustError"}

# Imports the app as `faust -A app worker` would (both roles), builds its web server's routes and prints them.
LIST_ROUTES = """
import asyncio, json
from app import app
async def main():
    app.loop = asyncio.get_running_loop()
    app.finalize()
    await app.web.init_server() if asyncio.iscoroutinefunction(app.web.init_server) else app.web.init_server()
    routes = {}
    for route in app.web.web_app.router.routes():
        info = route.resource.get_info()
        routes.setdefault(info.get("formatter") or info.get("path"), set()).add(route.method)
    print(json.dumps({path: sorted(methods) for path, methods in routes.items()}))
asyncio.run(main())
"""


def operations():
    for path, item in DOCUMENT["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(node: dict) -> dict:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = DOCUMENT["components"][section][name]
    return node


@pytest.fixture(scope="module")
def app_routes() -> dict[str, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    env.update(PYTHONPATH=str(REPO), TASTEMAKER_BROKER="kafka://127.0.0.1:1", TASTEMAKER_ROLES="collector,stream")
    listed = subprocess.run([sys.executable, "-c", LIST_ROUTES], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0, listed.stderr[-3000:]
    return {path: set(methods) for path, methods in json.loads(listed.stdout.strip().splitlines()[-1]).items()}


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(DOCUMENT).validate()


def test_every_route_the_app_registers_is_documented_with_its_methods(app_routes):
    # HEAD: Faust adds it to every route (a GET answered without its body; 405 where there is no GET).
    registered = {path: methods - {"HEAD"} for path, methods in app_routes.items()}
    documented = {path: {m.upper() for m in item if m in METHODS} for path, item in DOCUMENT["paths"].items()}
    assert registered == documented


def test_faust_own_table_and_router_views_are_not_served(app_routes):
    assert not [path for path in app_routes if path.startswith(("/table", "/router", "/graph"))]


def test_operations_have_unique_ids_and_state_their_security():
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids))
    schemes = set(DOCUMENT["components"]["securitySchemes"])
    assert schemes == {"writeKey", "serverToken", "visitorToken", "visitorTokenQuery", "peerToken"}
    for path, method, op in operations():
        assert "security" in op, f"{method} {path}"
        for requirement in op["security"]:
            assert set(requirement) <= schemes, f"{method} {path}"


def test_operations_that_need_credentials_document_401_and_403():
    for path, method, op in operations():
        if op["security"] and {} not in op["security"]:
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
            assert "WWW-Authenticate" in resolve(op["responses"]["401"]).get("headers", {}), f"{method} {path}"


def test_every_error_answer_has_the_shared_error_shape():
    for path, method, op in operations():
        for status, response in op["responses"].items():
            if int(status) < 400 or (path, status) == ("/health", "503"):  # not ready: the readiness answer
                continue
            if (path, status) == ("/decisions/{person_id}/stream", "400"):  # aiohttp's: a request line over 8 KB
                assert list(resolve(response)["content"]) == ["text/plain"]
                continue
            content = resolve(response)["content"]
            assert list(content) == ["application/json"], f"{method} {path} {status}"
            schema = content["application/json"]["schema"]
            refs = [s["$ref"] for s in schema.get("oneOf", schema.get("anyOf", [schema]))]
            assert set(refs) <= ERROR_SCHEMAS, f"{method} {path} {status}"


def test_the_collector_answers_segment_errors_and_says_when_to_retry():
    for path, method, op in operations():
        if not path.startswith("/v1/"):
            continue
        assert op["security"] == [{"writeKey": []}, {}], path  # Basic, or writeKey in the body
        for status in ("400", "401", "413", "415", "429", "503"):
            schema = resolve(op["responses"][status])["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/CollectorError"}, f"{path} {status}"
        for status in ("429", "503"):
            assert "Retry-After" in resolve(op["responses"][status])["headers"], f"{path} {status}"


def test_only_the_decision_stream_takes_a_token_in_the_query():
    in_query = [path for path, _, op in operations() if any("visitorTokenQuery" in r for r in op["security"])]
    assert in_query == ["/decisions/{person_id}/stream"]


def test_the_view_serves_this_file():
    from app.web import openapi

    assert openapi.DOCUMENT == DOCUMENT_PATH.read_bytes()
