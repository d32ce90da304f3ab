"""app/web/owners.py: the walk along merged persons (a plain person, a chain, a cycle, a chain too long), the
URL an owner is asked at (kept on the owner's host, percent-encoding kept), and asking the owner (this
worker's own answer without a request, the peer token, the timeout only when given, a 404 as ``missing``).
No worker, no Kafka: the owner and the HTTP client are stand-ins."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp
import orjson
import pytest
from yarl import URL

import app  # noqa: F401  (first, as the worker imports it: app/__init__ declares the stages in order)
from app.web import owners
from app.web.auth import peer_headers
from app.web.owners import MAX_HOPS, ask_owner, follow_merges, owner_target, person_path


class States:
    """``state_of`` over a dict of states, recording whom it was asked about."""

    def __init__(self, states: dict[str, dict | None]) -> None:
        self.states, self.asked = states, []

    async def __call__(self, person: str) -> dict | None:
        self.asked.append(person)
        return self.states.get(person)


def person(merged_into: str | None = None, events: int = 1) -> dict:
    return {"ids": ["x"], "merged_into": merged_into, "profile": {"events": events}}


# --- follow_merges ---

async def test_a_plain_person_is_their_own_state_after_one_look():
    states = States({"alice": person()})
    assert await follow_merges("alice", states) == ("alice", states.states["alice"], True)
    assert states.asked == ["alice"]


async def test_an_unknown_or_empty_person_ends_the_walk_where_it_started():
    states = States({"empty": {}})
    assert await follow_merges("nobody", states) == ("nobody", None, True)
    assert await follow_merges("empty", states) == ("empty", {}, True)
    assert states.asked == ["nobody", "empty"]


async def test_a_merged_person_leads_to_the_person_they_joined():
    states = States({"anon-1": person("anon-2"), "anon-2": person("user-42"), "user-42": person(events=7)})
    assert await follow_merges("anon-1", states) == ("user-42", states.states["user-42"], True)
    assert states.asked == ["anon-1", "anon-2", "user-42"]


async def test_a_tombstone_naming_a_person_never_seen_ends_on_that_person_with_no_state():
    states = States({"anon-1": person("user-42")})
    assert await follow_merges("anon-1", states) == ("user-42", None, True)


async def test_a_chain_of_exactly_max_hops_persons_is_followed_to_its_end():
    chain = [f"p{n}" for n in range(MAX_HOPS)]
    states = States({p: person(q) for p, q in zip(chain, chain[1:])} | {chain[-1]: person()})
    assert await follow_merges(chain[0], states) == (chain[-1], states.states[chain[-1]], True)
    assert states.asked == chain


async def test_a_chain_too_long_stops_after_max_hops_looks_on_the_person_the_last_names():
    chain = [f"p{n}" for n in range(MAX_HOPS + 2)]
    states = States({p: person(q) for p, q in zip(chain, chain[1:])} | {chain[-1]: person()})
    found = await follow_merges(chain[0], states)
    assert found == (chain[MAX_HOPS], states.states[chain[MAX_HOPS - 1]], False)
    assert states.asked == chain[:MAX_HOPS]


async def test_a_cycle_is_bounded_and_not_reached():
    states = States({"a": person("b"), "b": person("a")})
    assert await follow_merges("a", states) == ("a", states.states["b"], False)
    assert states.asked == ["a", "b", "a", "b"]
    assert len(states.asked) == MAX_HOPS


async def test_a_person_merged_into_themselves_is_a_cycle_too():
    states = States({"a": person("a")})
    assert await follow_merges("a", states, max_hops=2) == ("a", states.states["a"], False)
    assert states.asked == ["a", "a"]


async def test_max_hops_is_the_callers():
    states = States({"a": person("b"), "b": person("c"), "c": person()})
    assert await follow_merges("a", states, max_hops=1) == ("b", states.states["a"], False)
    assert await follow_merges("a", States(states.states), max_hops=3) == ("c", states.states["c"], True)


# --- the URL an owner is asked at ---

OWNER = URL("http://10.0.0.2:6066/")


@pytest.mark.parametrize("raw, path", [
    ("alice", "/persons/alice"),
    ("a b", "/persons/a%20b"),
    ("a?b", "/persons/a%3Fb"),
    ("a#b", "/persons/a%23b"),
    ("%41", "/persons/%2541"),
    ("ü", "/persons/%C3%BC"),
    ("user@example.com", "/persons/user@example.com"),
])
def test_a_persons_path_is_percent_encoded_so_the_whole_id_reaches_the_owner(raw, path):
    assert person_path(raw) == path
    target = owner_target(OWNER, person_path(raw))
    assert (target.host, target.port, target.raw_path, target.query_string) == ("10.0.0.2", 6066, path, "")
    assert URL(str(target)).path == f"/persons/{raw}"  # what the owner's router decodes


def test_the_path_and_query_are_forwarded_as_encoded_not_encoded_twice():
    target = owner_target(OWNER, "/recommendations/a%20b?limit=5&context=device:mobile,locale:de-DE")
    assert str(target) == "http://10.0.0.2:6066/recommendations/a%20b?limit=5&context=device:mobile,locale:de-DE"


@pytest.mark.parametrize("path_qs", ["//evil.example/steal", "///evil.example/steal"])
def test_a_path_starting_with_slashes_stays_on_the_owners_host(path_qs):
    target = owner_target(OWNER, path_qs)
    assert (target.host, target.port, target.path) == ("10.0.0.2", 6066, "/evil.example/steal")


def test_the_owners_own_path_and_query_are_replaced():
    target = owner_target(URL("http://10.0.0.2:6066/base/?x=1"), "/persons/p?limit=3")
    assert str(target) == "http://10.0.0.2:6066/persons/p?limit=3"


# --- ask_owner, with the owner and the HTTP client as stand-ins ---

class Response:
    def __init__(self, status: int, body: object) -> None:
        self.status, self.body = status, body

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise aiohttp.ClientResponseError(None, (), status=self.status)

    async def read(self) -> bytes:
        return orjson.dumps(self.body)


class Client:
    def __init__(self, response: Response) -> None:
        self.response, self.calls = response, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        return self.response


class Table:
    name = "profiles"


def stand_in(owner: str, response: Response = Response(200, {})) -> SimpleNamespace:
    """An app whose router puts every key on ``owner`` and whose own URL is http://10.0.0.1:6066."""
    keys = []

    def key_store(table_name, key):
        keys.append((table_name, key))
        return URL(owner)

    return SimpleNamespace(router=SimpleNamespace(key_store=key_store, keys=keys),
                           conf=SimpleNamespace(canonical_url=URL("http://10.0.0.1:6066")),
                           http_client=Client(response))


async def test_on_the_owner_itself_the_answer_is_its_own_without_a_request(monkeypatch):
    fake = stand_in("http://10.0.0.1:6066/")
    monkeypatch.setattr(owners, "app", fake)
    assert await ask_owner(Table, "p", "/persons/p") is None
    assert await ask_owner(Table, "p", "/persons/p", here=lambda: {"ids": ["p"]}) == {"ids": ["p"]}
    assert fake.http_client.calls == []
    assert fake.router.keys == [("profiles", "p"), ("profiles", "p")]


async def test_another_owner_is_asked_with_the_peer_token_and_its_json_is_the_answer(monkeypatch):
    fake = stand_in("http://10.0.0.2:6066/", Response(200, {"items": [1], "person": "p"}))
    monkeypatch.setattr(owners, "app", fake)
    here_called = []
    answer = await ask_owner(Table, "p", "/persons/p/recommendations?limit=3", here=lambda: here_called.append(1))
    assert answer == {"items": [1], "person": "p"}
    assert here_called == []
    [(url, kwargs)] = fake.http_client.calls
    assert str(url) == "http://10.0.0.2:6066/persons/p/recommendations?limit=3"
    assert kwargs == {"headers": peer_headers()}  # no timeout given: the HTTP client's own


async def test_a_timeout_given_is_the_requests(monkeypatch):
    fake = stand_in("http://10.0.0.2:6066/")
    monkeypatch.setattr(owners, "app", fake)
    timeout = aiohttp.ClientTimeout(total=2.0)
    await ask_owner(Table, "p", "/persons/p", timeout=timeout)
    [(_, kwargs)] = fake.http_client.calls
    assert kwargs == {"headers": peer_headers(), "timeout": timeout}


async def test_a_404_is_missing_when_given_and_raises_when_not(monkeypatch):
    monkeypatch.setattr(owners, "app", stand_in("http://10.0.0.2:6066/", Response(404, {"error": {}})))
    assert await ask_owner(Table, "p", "/persons/p", missing=None) is None
    assert await ask_owner(Table, "p", "/persons/p", missing={}) == {}
    with pytest.raises(aiohttp.ClientResponseError) as refused:
        await ask_owner(Table, "p", "/persons/p")
    assert refused.value.status == 404


@pytest.mark.parametrize("status", [400, 403, 500, 503])
async def test_any_other_refusal_raises_even_with_missing(monkeypatch, status):
    monkeypatch.setattr(owners, "app", stand_in("http://10.0.0.2:6066/", Response(status, {"error": {}})))
    with pytest.raises(aiohttp.ClientResponseError) as refused:
        await ask_owner(Table, "p", "/persons/p", missing=None)
    assert refused.value.status == status
