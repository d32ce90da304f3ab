"""The backtest replays recorded events through the engine on their own clock, timers included."""

from __future__ import annotations

import json
from pathlib import Path

from tastemaker import backtest
from tastemaker.behaviour import Knowledge
from tastemaker.rules import RuleSet, parse_rule
from tastemaker.rules.changes import load_documents

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"


def knowledge() -> Knowledge:
    return Knowledge(rules=RuleSet([parse_rule(d) for _, d in load_documents(EXAMPLES)]))


def track(who: str, event: str, at: str, n: int) -> dict:
    return {"type": "track", "event": event, "anonymousId": who, "messageId": f"{who}-{n}", "timestamp": at,
            "properties": {"product_id": "sku-1"}}


def test_a_cart_left_alone_fires_after_the_wait_and_a_checkout_disarms_it(tmp_path):
    events = [
        track("leaver", "Product Added", "2022-08-01T10:00:00Z", 1),
        track("buyer", "Product Added", "2022-08-01T10:00:00Z", 1),
        track("buyer", "Checkout Started", "2022-08-01T10:10:00Z", 2),
        track("other", "Product Viewed", "2022-08-01T12:00:00Z", 1),  # the clock moves on past the wait
        {"type": "track", "event": "Product Viewed", "anonymousId": "x", "timestamp": "not a date"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events))
    report = backtest.run(backtest.read_messages(path), knowledge()).as_json()
    assert report["events"] == 4 and sum(report["refused"].values()) == 1
    assert report["rules"]["cart-abandoned"]["persons"] == 1
    assert report["rules"]["cart-abandoned"]["example_persons"] == ["leaver"]
    assert report["rules"]["cart-abandoned"]["by_trigger"] == {"timer": 1}
    assert report["rules"]["viewed-checkout"]["example_persons"] == ["buyer"]


def test_otto_sessions_become_ecommerce_events(tmp_path):
    path = tmp_path / "otto.jsonl"
    path.write_text(json.dumps({"session": 7, "events": [{"aid": 1, "ts": 1659304800025, "type": "clicks"},
                                                           {"aid": 1, "ts": 1659304900025, "type": "carts"},
                                                           {"aid": 1, "ts": 1659305000025, "type": "orders"}]}))
    names = [m["event"] for m in backtest.read_messages(path)]
    assert names == ["Product Viewed", "Product Added", "Order Completed"]
    report = backtest.run(backtest.read_messages(path), knowledge()).as_json()
    assert report["persons"] == 1 and report["rules"]["purchased"]["firings"] == 1
