"""Identity resolution end to end over the pure stage transitions, in a small simulated Kafka.

Each topic has partitions (FIFO per partition, key -> partition by hash); records are taken from random
partitions in random order, and some are delivered twice, as after a crash. Whatever the interleaving, the
person's profile must hold every event exactly once, under every id.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace

import pytest

from tastemaker import person as persons
from tastemaker.delivery import SourcePosition
from tastemaker.identity import RateMeter, on_link, person_of, raw_user_key

PARTITIONS = 4


class Simulation:
    def __init__(self, seed: int, redeliver: float = 0.0, max_ids: int = 25) -> None:
        self.random = random.Random(seed)
        self.redeliver = redeliver
        self.max_ids = max_ids
        self.queues = {(t, p): deque() for t in ("by_id", "by_person") for p in range(PARTITIONS)}
        self.offsets = {key: 0 for key in self.queues}
        self.identities: dict[str, dict] = {}
        self.profiles: dict[str, dict] = {}
        self.input_offset = 0
        self.outcomes: list[str] = []

    def send(self, topic: str, key: str, value: dict, source: SourcePosition | None) -> None:
        partition = hash(key) % PARTITIONS
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        self.queues[(topic, partition)].append((key, value, source, SourcePosition(topic, partition, offset)))

    def ingest(self, message: dict) -> None:
        """Stage 1 for an already-normalized message: re-key by raw id, tagged with its input position."""
        key = raw_user_key(message)
        event = {"kind": "event", "type": message["type"], "name": message.get("event"), "event_time": self.input_offset,
                 "user_id": message.get("userId"), "anonymous_id": message.get("anonymousId"),
                 "previous_id": message.get("previousId"), "item_ids": [], "is_bot": False}
        self.send("by_id", key, event, SourcePosition("clickstream", 0, self.input_offset))
        self.input_offset += 1

    def run(self) -> None:
        while any(self.queues.values()):
            topic, partition = self.random.choice([k for k, q in self.queues.items() if q])
            record = self.queues[(topic, partition)][0]
            self.process(topic, *record)
            if self.random.random() >= self.redeliver:  # else: processed, not committed, delivered again
                self.queues[(topic, partition)].popleft()

    def process(self, topic, key, value, source, here) -> None:
        if topic == "by_id":
            if value["kind"] == "link":
                step = on_link(self.identities.get(key), key, value["person"])
                if step.state is not None:
                    self.identities[key] = step.state
                for person_key, command in step.commands:
                    self.send("by_person", person_key, command, replace(here, via=key))
                return
            person = person_of(self.identities.get(key), key)
            self.send("by_person", person, {**value, "person": person},
                      replace(source, via=key))
            return
        state = self.profiles.get(key)
        here = replace(here, via=key)
        kind = value["kind"]
        if kind == "event":
            step = persons.on_event(state, key, value, source, here, self.max_ids)
        elif kind == "merge_into":
            step = persons.on_merge_into(state, key, value["target"], here)
        elif kind == "absorb":
            step = persons.on_absorb(state, key, value, source)
        else:
            step = persons.on_unlink(state, key, value["id"])
        if step.state is not None:
            self.profiles[key] = step.state
        for send in step.sends:
            self.send(send.to, send.key, send.value, send.source)
        self.outcomes += step.outcomes

    def profile_of(self, raw_id: str) -> tuple[str, dict]:
        person = person_of(self.identities.get(raw_id), raw_id)
        while self.profiles[person]["merged_into"]:
            person = self.profiles[person]["merged_into"]
        return person, self.profiles[person]


def page(anonymous_id=None, user_id=None):
    return {"type": "page", **({"anonymousId": anonymous_id} if anonymous_id else {}),
            **({"userId": user_id} if user_id else {})}


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("redeliver", [0.0, 0.3], ids=["once", "redelivered"])
def test_two_anonymous_devices_then_login_on_each_give_one_profile_with_both_histories(seed, redeliver):
    sim = Simulation(seed, redeliver)
    for _ in range(3):
        sim.ingest(page(anonymous_id="phone"))
    for _ in range(2):
        sim.ingest(page(anonymous_id="laptop"))
    sim.ingest({"type": "identify", "userId": "ann", "anonymousId": "phone"})
    sim.ingest(page(anonymous_id="phone"))  # after login, anonymous-only events still reach ann
    sim.ingest({"type": "identify", "userId": "ann", "anonymousId": "laptop"})
    sim.ingest(page(anonymous_id="laptop", user_id="ann"))
    sim.run()

    answers = {raw_id: sim.profile_of(raw_id) for raw_id in ("ann", "phone", "laptop")}
    assert {person for person, _ in answers.values()} == {"ann"}
    state = answers["ann"][1]
    assert state["profile"]["events"] == 9  # 3 + 2 + identify + 1 + identify + 1, each once
    assert state["profile"]["counts"] == {"page": 7, "identify": 2}
    assert sorted(state["ids"]) == ["ann", "laptop", "phone"]


@pytest.mark.parametrize("seed", range(20))
def test_a_shared_device_moves_to_the_next_login_without_merging_the_two_users(seed):
    sim = Simulation(seed)
    sim.ingest(page(anonymous_id="kiosk"))
    sim.ingest({"type": "identify", "userId": "bob", "anonymousId": "kiosk"})
    sim.run()
    sim.ingest({"type": "identify", "userId": "cat", "anonymousId": "kiosk"})
    sim.run()
    sim.ingest(page(anonymous_id="kiosk"))
    sim.run()
    bob, cat = sim.profile_of("bob"), sim.profile_of("cat")
    assert bob[0] == "bob" and cat[0] == "cat"
    assert bob[1]["profile"]["events"] == 2  # kiosk's first page + bob's identify
    assert cat[1]["profile"]["events"] == 2  # cat's identify + the page after cat logged in
    assert sim.profile_of("kiosk")[0] == "cat"
    assert "kiosk" not in bob[1]["ids"]


def test_alias_merges_a_previous_id_into_the_user():
    sim = Simulation(1)
    sim.ingest(page(user_id="old-login"))
    sim.ingest({"type": "alias", "previousId": "old-login", "userId": "new-login"})
    sim.run()
    person, state = sim.profile_of("old-login")
    assert person == "new-login" and state["profile"]["events"] == 2


def test_the_cap_on_ids_per_person_keeps_further_devices_apart():
    sim = Simulation(2, max_ids=3)
    for device in ("d1", "d2", "d3", "d4"):
        sim.ingest(page(anonymous_id=device))
        sim.ingest({"type": "identify", "userId": "shared", "anonymousId": device})
        sim.run()
    state = sim.profile_of("shared")[1]
    assert sorted(state["ids"]) == ["d1", "d2", "shared"]
    assert sim.profile_of("d3")[0] == "d3" and sim.profile_of("d4")[0] == "d4"
    assert sim.outcomes.count("identity_cap") == 2


def test_bot_events_are_kept_out_of_profiles_and_do_not_link():
    state = persons.new_person("u")
    event = {"type": "identify", "user_id": "u", "anonymous_id": "a", "is_bot": True, "bot_reason": "user_agent",
             "event_time": 1.0, "item_ids": []}
    here = SourcePosition("by_person", 0, 0, "u")
    step = persons.on_event(state, "u", event, SourcePosition("clickstream", 0, 0, "u"), here, 25)
    assert step.state is None and step.sends == [] and step.outcomes == ["bot:user_agent"]


def test_rate_meter_flags_what_no_person_can_do():
    meter = RateMeter(max_per_minute=3)
    assert [meter.too_fast("a", 60.0 + i) for i in range(5)] == [False, False, False, True, True]
    assert not meter.too_fast("b", 61.0)  # per id
    assert not meter.too_fast("a", 125.0)  # a new minute
