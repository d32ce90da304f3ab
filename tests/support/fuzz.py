"""Schema-driven fuzzing of a running worker from its OpenAPI document (Schemathesis on Hypothesis).

Where it sits: tests/integration/test_fuzz.py (a few dozen requests per operation, on every test run) and
``make fuzz`` (scripts/fuzz.py, 1,000+ per operation) start a real worker, ``seed`` it with a few persons,
items and a rule, then ``Fuzzer.fuzz`` each operation of app/web/openapi.json:

    Schemathesis strategy (positive and negative cases) + a credential ──▶ one HTTP request to the worker
        ──▶ Tally: status counts, server errors (500, or a 5xx the document does not list), hangs (no answer
            within the timeout), mismatches (status, content type, headers or body not as documented)

Credentials follow each operation's security requirements: the ones that grant it (write key, read, admin,
peer, the path id's own visitor token, in the header or ``?access_token=``) most of the time, and the ones that
must be refused (none, unknown, another id's or an expired visitor token, a weaker scope, a write key where a
token is needed) the rest, so both the data answers and the 401/403 answers are checked against the document.
Known ids (the seeded persons, items and rule) are put in the path now and then, so the 200 answers of reads
are checked too, not only their 404s.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FailedHealthCheck, Unsatisfiable

from tastemaker.access import issue_visitor_token
from tests.support.kafka import REPO
from tests.support.worker import ADMIN_TOKEN, PEER_TOKEN, READ_TOKEN, VISITOR_SECRET

warnings.filterwarnings("ignore", module="schemathesis")
import schemathesis  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.transport import Response  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

DOCUMENT = REPO / "app" / "web" / "openapi.json"
WRITE_KEY = "fuzz-write-key"  # the deployment must list it in TASTEMAKER_WRITE_KEYS
WRITE_KEYS = f"{WRITE_KEY}=fuzz"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
# Longer than any bound the server keeps itself: rules and item writes wait up to 10 s for their own copy.
TIMEOUT = 15.0
STREAM_READ_TIMEOUT = 5.0  # a stream's first bytes (": connected") come at once; its end never does
FAILURES_KEPT = 5  # per operation and kind: enough to fix a bug, short enough to read

PERSONS = ("fuzz-alice", "fuzz-bob")
ANONYMOUS = "fuzz-anon-1"
ITEMS = ("fuzz-sku-1", "fuzz-sku-2", "fuzz-sku-3")
RULE = "fuzz-rule"
KNOWN = {"profile_id": PERSONS + (ANONYMOUS,), "person_id": PERSONS + (ANONYMOUS,), "raw_id": (ANONYMOUS,) + PERSONS,
         "item_id": ITEMS, "rule_id": (RULE,)}


def visitor_token(raw_id: str, lifetime: int = 3600) -> str:
    return issue_visitor_token(raw_id, VISITOR_SECRET, int(time.time()) + lifetime)


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@dataclass
class Tally:
    """What one operation's requests found."""

    requests: int = 0
    server_errors: int = 0
    hangs: int = 0
    mismatches: int = 0
    statuses: Counter = field(default_factory=Counter)
    credentials: Counter = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        return self.server_errors + self.hangs + self.mismatches

    def keep(self, kind: str, text: str) -> None:
        kept = self.failures.setdefault(kind, [])
        if len(kept) < FAILURES_KEPT:
            kept.append(text[:3000])


@dataclass(frozen=True)
class Credential:
    """One way of calling: what it sets on the request, by name (for the tally)."""

    name: str
    apply: Callable[[Any], None]


def _set_authorization(value: str | None) -> Callable[[Any], None]:
    def apply(case) -> None:
        headers = dict(case.headers or {})
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        if value is not None:
            headers["Authorization"] = value
        case.headers = headers
    return apply


def _own_visitor(query: bool, lifetime: int = 3600, other: bool = False) -> Callable[[Any], None]:
    """A visitor token for the case's own path id (or, ``other``, for somebody else)."""
    def apply(case) -> None:
        ids = [urllib.parse.unquote(str(v)) for v in (case.path_parameters or {}).values()]
        raw_id = (ids[0] if ids else "nobody") if not other else "somebody-else-" + (ids[0] if ids else "")
        token = visitor_token(raw_id, lifetime)
        if query:
            _set_authorization(None)(case)
            case.query = {**(case.query or {}), "access_token": token}
        else:
            _set_authorization(f"Bearer {token}")(case)
    return apply


GRANTING = {
    ("writeKey", ()): [Credential("write key", _set_authorization(basic(WRITE_KEY)))],
    ("serverToken", ("read",)): [Credential("read token", _set_authorization(f"Bearer {READ_TOKEN}")),
                                 Credential("admin token", _set_authorization(f"Bearer {ADMIN_TOKEN}"))],
    ("serverToken", ("admin",)): [Credential("admin token", _set_authorization(f"Bearer {ADMIN_TOKEN}"))],
    ("visitorToken", ()): [Credential("own visitor token", _own_visitor(query=False))],
    ("visitorTokenQuery", ()): [Credential("own visitor token (query)", _own_visitor(query=True))],
    ("peerToken", ()): [Credential("peer token", _set_authorization(f"Bearer {PEER_TOKEN}"))],
}
NONE = Credential("none", _set_authorization(None))
REFUSED = [
    NONE,
    Credential("unknown token", _set_authorization("Bearer not-a-token-of-this-deployment")),
    Credential("write key", _set_authorization(basic(WRITE_KEY))),
    Credential("read token", _set_authorization(f"Bearer {READ_TOKEN}")),
    Credential("peer token", _set_authorization(f"Bearer {PEER_TOKEN}")),
    Credential("other id's visitor token", _own_visitor(query=False, other=True)),
    Credential("expired visitor token", _own_visitor(query=False, lifetime=-60)),
    Credential("garbage Basic", _set_authorization("Basic %%%")),
]


def granting(security: list[dict[str, list[str]]]) -> dict[str, Credential]:
    """The credentials an operation's security requirements list, by name (``none`` for a ``{}``)."""
    found: dict[str, Credential] = {}
    for requirement in security:
        if not requirement:
            found.setdefault(NONE.name, NONE)
        for scheme, scopes in requirement.items():
            for credential in GRANTING[(scheme, tuple(scopes))]:
                found.setdefault(credential.name, credential)
    return found


def credentials_for(security: list[dict[str, list[str]]]) -> list[Credential]:
    """The credentials to call an operation with: each granting one three times, each refused one once."""
    granted = granting(security)
    return [c for c in granted.values() for _ in range(3)] + [c for c in REFUSED if c.name not in granted]


class Fuzzer:
    def __init__(self, base_url: str, document: dict | None = None, timeout: float = TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.document = document or json.loads(DOCUMENT.read_text())
        self.schema = schemathesis.openapi.from_dict(self.document)
        self.schema.config.update(base_url=self.base_url)
        self.timeout = timeout
        self.session = requests.Session()

    def operations(self) -> list:
        """Every operation, reads first and deletions last, so the seeded data is read before it is gone."""
        return ordered_operations(self.schema)

    def operation(self, label: str):
        return next(op for op in self.operations() if op.label == label)

    def fuzz(self, operation, count: int) -> Tally:
        """At least ``count`` requests to ``operation``: half positive cases, half negative where the
        operation has inputs a negative case can break, repeated while Hypothesis exhausts a small space."""
        tally = Tally()
        security = operation.definition.raw.get("security", self.document.get("security", []))
        choices = st.sampled_from(credentials_for(security))
        modes = {GenerationMode.POSITIVE: self._positive(operation),
                 GenerationMode.NEGATIVE: operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)}
        rounds = 0
        while tally.requests < count:
            rounds += 1
            for mode, strategy in list(modes.items()):
                wanted = count - tally.requests
                if wanted <= 0:
                    break
                if len(modes) > 1 and mode is GenerationMode.POSITIVE:
                    wanted = max(1, wanted // 2)
                if not self._run(operation, st.tuples(strategy, choices), wanted, tally):
                    del modes[mode]  # nothing can be generated in this mode (no inputs to break)
            if not modes or rounds > 100 * count:
                raise RuntimeError(f"{operation.label}: no request could be generated")
        return tally

    def _positive(self, operation):
        """Schemathesis' positive cases, now and then with a seeded id in the path or a rule that compiles."""
        strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
        names = [p.name for p in operation.path_parameters]
        if names and all(name in KNOWN for name in names):
            strategies += [operation.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                                 path_parameters={name: value for name in names})
                           for value in KNOWN[names[0]]]
        if operation.label in ("PUT /rules/{rule_id}", "POST /rules/validate"):
            # A CEL condition made of random text hardly ever compiles, and a rule's id must be its path's:
            # without these the rules' 200 (and 409, a version not above the stored one) would go unchecked.
            path = {"rule_id": RULE} if operation.path_parameters else None
            strategies.append(st.integers(1, 50).flatmap(lambda version: operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE, path_parameters=path, media_type="application/json",
                body=seed_rule(version))))
        return st.one_of(*strategies)

    def _run(self, operation, strategy, examples: int, tally: Tally) -> bool:
        @given(drawn=strategy)
        @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=False)
        def send(drawn) -> None:
            case, credential = drawn
            credential.apply(case)
            tally.credentials[credential.name] += 1
            self._send(operation, case, credential, tally)

        try:
            send()
        except (Unsatisfiable, FailedHealthCheck):
            return False
        return True

    def _send(self, operation, case, credential: Credential, tally: Tally) -> None:
        tally.requests += 1
        try:
            if operation.path.endswith("/stream"):
                response = self._stream(case)
            else:
                response = case.call(base_url=self.base_url, session=self.session, timeout=self.timeout)
        except requests.Timeout:
            tally.hangs += 1
            tally.keep("hang", f"no answer within {self.timeout:g} s:\n{_curl(case, self.base_url)}")
            return
        except requests.ConnectionError as error:
            tally.server_errors += 1
            tally.keep("server error", f"connection failed ({type(error).__name__}):\n{_curl(case, self.base_url)}")
            self.session = requests.Session()
            return
        status = response.status_code
        tally.statuses[status] += 1
        documented = {str(code) for code in operation.definition.raw.get("responses", {})}
        if status >= 500 and (status == 500 or str(status) not in documented):
            tally.server_errors += 1
            tally.keep("server error", f"{status} {response.text[:500]}\n{_curl(case, self.base_url)}")
            return
        if problem := access_problem(operation, credential, status):
            tally.mismatches += 1
            tally.keep("access", f"{problem}: {status} {response.text[:300]}\n{_curl(case, self.base_url)}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as failure:  # schemathesis Failure / FailureGroup
            tally.mismatches += 1
            tally.keep("mismatch", f"{failure}\n{_answer(response)}\n{_curl(case, self.base_url)}")
        except BaseExceptionGroup as failures:
            tally.mismatches += 1
            found = "\n".join(str(f) for f in failures.exceptions)
            tally.keep("mismatch", f"{found}\n{_answer(response)}\n{_curl(case, self.base_url)}")

    def _stream(self, case) -> Response:
        """A decision stream: its status, headers and first bytes; then the connection is closed (the stream
        itself never ends). Anything but a stream (the refusals) is read whole."""
        data = case.as_transport_kwargs(base_url=self.base_url)
        data.pop("stream", None)
        # A connection of its own, closed after: one given back to a shared pool would still carry the stream,
        # and the next request sent on it would wait behind a stream that never ends.
        data["headers"] = {**(data.get("headers") or {}), "Connection": "close"}
        session = requests.Session()
        raw = session.request(**data, stream=True, timeout=(self.timeout, STREAM_READ_TIMEOUT))
        try:
            if raw.headers.get("Content-Type", "").startswith("text/event-stream"):
                first = raw.raw.read1(4096)
                if not first.startswith(b": connected"):
                    raise requests.ReadTimeout(f"the stream began with {first[:40]!r}, not ': connected'")
                raw._content = first
            else:
                raw.content  # noqa: B018 - read whole
            return Response.from_requests(raw, verify=True)
        finally:
            raw.close()
            session.close()


    def undecodable_body(self, operation) -> tuple[int, str | None]:
        """One request whose body is not what its ``Content-Encoding: gzip`` says, with a granting credential:
        (status, the mismatch with the document or None)."""
        return self.one(operation, headers={"Content-Encoding": "gzip"})

    def one(self, operation, headers: dict | None = None, **fixed) -> tuple[int, str | None]:
        """One positive case (``fixed``: Schemathesis' ``body=``, ``media_type=``, ... held as given) with a
        granting credential and ``headers`` added: (status, the mismatch with the document or None)."""
        found: list = []

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE, **fixed) if fixed
               else self._positive(operation))
        @settings(max_examples=1, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
        def draw(case) -> None:
            found.append(case)

        draw()
        case = found[0]
        next(iter(granting(operation.definition.raw.get("security", [])).values())).apply(case)
        case.headers = {**(case.headers or {}), **(headers or {})}
        response = case.call(base_url=self.base_url, session=requests.Session(), timeout=self.timeout)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as failure:
            return response.status_code, f"{failure}\n{_answer(response)}"
        return response.status_code, None


def ordered_operations(schema) -> list:
    order = {"GET": 0, "PUT": 1, "POST": 2, "DELETE": 3}
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda op: (order.get(op.method.upper(), 2), op.path))


def operation_labels(document: dict | None = None) -> list[str]:
    """``METHOD /path`` of every operation of the document, in the order ``Fuzzer`` runs them."""
    schema = schemathesis.openapi.from_dict(document or json.loads(DOCUMENT.read_text()))
    return [op.label for op in ordered_operations(schema)]


def access_problem(operation, credential: Credential, status: int) -> str | None:
    """Whether the answer's 401/403 agrees with the operation's documented security, for ``credential``."""
    security = operation.definition.raw.get("security", [])
    if not security or {} in security:
        return None  # public (or the collector, whose write key may be in the body): any 401 is the status check's
    granted = granting(security)
    if credential.name in granted and status in (401, 403):
        return f"refused {credential.name}, which the document lists"
    if credential.name not in granted and status not in (401, 403):
        return f"answered {credential.name}, which the document does not list"
    return None


def _answer(response) -> str:
    media = next((v for k, v in response.headers.items() if k.lower() == "content-type"), None)
    return f"answered {response.status_code} {media}: {response.text[:500]}"


def _curl(case, base_url: str) -> str:
    try:
        return case.as_curl_command(base_url=base_url)
    except Exception:  # noqa: BLE001 - only a hint for the reader
        return f"{case.method} {case.formatted_path}"


# ---- seeding: a few persons, items and a rule, so reads answer 200 as well as 404 ----------------------------

def seed_rule(version: int) -> dict:
    return {"id": RULE, "version": version, "description": "A decision on every viewed item (fuzzing)",
            "when": 'event.name == "Product Viewed"',
            "actions": [{"type": "decision", "kind": "message", "block": "fuzz", "payload": {"text": "hi"}}]}


def seed(base_url: str, timeout: float = 90.0) -> None:
    """Persons with events (and one anonymous visitor linked to the first), items and a rule; returns once the
    worker serves the first person's profile (the stream stage has processed the events)."""
    http = requests.Session()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for n, item in enumerate(ITEMS):
        answer = http.put(f"{base_url}/items/{item}", headers=admin, timeout=TIMEOUT, json={
            "title": f"Item {n}", "categories": ["shoes" if n % 2 else "outdoor"], "brand": "acme",
            "price": 10.0 + n, "currency": "EUR", "tags": ["fuzz"]})
        answer.raise_for_status()
    answer = http.put(f"{base_url}/rules/{RULE}", headers=admin, timeout=TIMEOUT, json=seed_rule(1))
    answer.raise_for_status()
    batch = []
    for person in PERSONS:
        batch.append({"type": "identify", "userId": person, "traits": {"plan": "pro"}})
        for item in ITEMS:
            batch.append({"type": "track", "userId": person, "event": "Product Viewed",
                          "properties": {"item_id": item, "price": 10.0, "category": "shoes"}})
        batch.append({"type": "page", "userId": person, "name": "Home", "properties": {"path": "/"}})
    batch.append({"type": "track", "anonymousId": ANONYMOUS, "event": "Product Viewed",
                  "properties": {"item_id": ITEMS[0]}})
    batch.append({"type": "alias", "previousId": ANONYMOUS, "userId": PERSONS[0]})
    answer = http.post(f"{base_url}/v1/batch", headers={"Authorization": basic(WRITE_KEY)}, json={"batch": batch},
                       timeout=TIMEOUT)
    answer.raise_for_status()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = [http.get(f"{base_url}/profiles/{person}", headers=admin, timeout=TIMEOUT).status_code
                for person in PERSONS]
        if seen == [200] * len(PERSONS):
            return
        time.sleep(0.5)
    raise TimeoutError(f"the seeded persons have no profile after {timeout:g} s")


# ---- the report ----------------------------------------------------------------------------------------------

def table(tallies: dict[str, Tally]) -> str:
    """Per operation: requests, answers by class, server errors, hangs, schema mismatches."""
    head = ("endpoint", "requests", "2xx/3xx", "4xx", "503/504", "server errors", "hangs", "mismatches")
    rows = []
    for label, t in tallies.items():
        ok = sum(n for s, n in t.statuses.items() if s < 400)
        client = sum(n for s, n in t.statuses.items() if 400 <= s < 500)
        documented = sum(n for s, n in t.statuses.items() if s in (503, 504))
        rows.append((label, t.requests, ok, client, documented, t.server_errors, t.hangs, t.mismatches))
    totals = ("total", *(sum(r[i] for r in rows) for i in range(1, len(head))))
    widths = [max(len(str(r[i])) for r in [head, *rows, totals]) for i in range(len(head))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *map(line, rows), rule, line(totals)])


def failures_report(tallies: dict[str, Tally]) -> str:
    parts = []
    for label, t in tallies.items():
        for kind, texts in t.failures.items():
            for text in texts:
                parts.append(f"==== {label}: {kind}\n{text}")
    return "\n\n".join(parts)


def write_json(path: Path, tallies: dict[str, Tally]) -> None:
    path.write_text(json.dumps({label: {"requests": t.requests, "server_errors": t.server_errors, "hangs": t.hangs,
                                        "mismatches": t.mismatches, "statuses": dict(sorted(t.statuses.items())),
                                        "credentials": dict(t.credentials), "failures": t.failures}
                                for label, t in tallies.items()}, indent=2))
