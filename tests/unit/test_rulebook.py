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
