"""The worker's rule book follows the rules topic: the latest record of a rule decides, as after compaction."""

from __future__ import annotations

import orjson

from app.rulebook import RuleBook
from tests.support.rules import document


def test_the_latest_record_of_a_rule_decides_even_when_it_is_not_valid():
    book = RuleBook()
    book.on_record(b"r", orjson.dumps(document(id="r", version=2)))
    assert book.knowledge.rules.rules["r"].version == 2
    # Another producer wrote a lower version: a worker replaying the compacted topic would see only this.
    book.on_record(b"r", orjson.dumps(document(id="r", version=1)))
    assert book.knowledge.rules.rules["r"].version == 1
    book.on_record(b"r", b"{not json")
    assert "r" not in book.knowledge.rules.rules and "r" not in book.documents
    fresh = RuleBook()
    fresh.on_record(b"r", b"{not json")
    assert fresh.knowledge.rules.rules == book.knowledge.rules.rules


def test_a_rule_over_the_cost_budget_written_by_another_producer_is_refused_on_replay():
    from tastemaker.rules import cost

    book = RuleBook()
    book.on_record(b"r", orjson.dumps(document(id="r", version=1)))
    costly = document(id="r", version=2,
                      when="profile.cart.items.exists(a, profile.cart.items.exists(b, a.id == b.id))")
    # Written straight to the topic (bypassing the API, which refuses it): the latest record rules, and it is
    # not a rule any worker accepts, so the rule is removed everywhere alike.
    book.on_record(b"r", orjson.dumps(costly))
    assert "r" not in book.knowledge.rules.rules and "r" not in book.documents
    fresh = RuleBook()
    fresh.on_record(b"r", orjson.dumps(costly))
    assert fresh.knowledge.rules.rules == {}
    cheap = document(id="r", version=3, when='profile.cart.items.exists(a, a.id == "sku-1")')
    book.on_record(b"r", orjson.dumps(cheap))
    assert book.knowledge.rules.rules["r"].when.cost.cost <= cost.BUDGET
