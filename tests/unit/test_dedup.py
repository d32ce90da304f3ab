from tastemaker.dedup import Verdict, classify, dedup_key, mark
from tastemaker.delivery import SourcePosition

HERE = SourcePosition("clickstream", 2, 40)
ELSEWHERE = SourcePosition("clickstream", 5, 7)
DAY = 86400.0


def test_key_is_source_and_message_id():
    assert dedup_key({"messageId": "m-1", "source": "web"}) == "web:m-1"
    assert dedup_key({"messageId": "m-1"}) == ":m-1"
    assert dedup_key({"type": "page"}) is None
    assert dedup_key({"messageId": ""}) is None


def test_first_sighting_is_new_and_a_resend_within_the_window_a_duplicate():
    assert classify(None, HERE, at=1000.0, window=DAY) is Verdict.NEW
    seen = mark(HERE, at=1000.0)
    assert classify(seen, ELSEWHERE, at=1000.0 + DAY - 1, window=DAY) is Verdict.DUPLICATE
    assert classify(seen, ELSEWHERE, at=1000.0 + DAY + 1, window=DAY) is Verdict.NEW


def test_the_same_record_delivered_again_is_not_its_own_duplicate():
    seen = mark(HERE, at=1000.0)
    assert classify(seen, HERE, at=1005.0, window=DAY) is Verdict.REDELIVERY
