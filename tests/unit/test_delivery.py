from tastemaker.delivery import SourcePosition, is_applied, mark_applied
from tastemaker.event_counts import count_event, empty


def test_position_round_trips_through_its_header_form():
    position = SourcePosition("shop.clickstream", 3, 41)
    assert SourcePosition.decode(position.encode()) == position
    assert SourcePosition.decode("a:b:c:7:9") == SourcePosition("a:b:c", 7, 9)  # topic names may hold ':'


def test_a_record_counts_once_however_often_it_is_delivered():
    state = empty()
    deliveries = [("clickstream", 3, 0), ("clickstream", 3, 1), ("clickstream", 3, 1), ("clickstream", 3, 0)]
    for topic, partition, offset in deliveries:
        state = count_event(state, SourcePosition(topic, partition, offset)) or state
    assert state == {"events": 2, "applied": {"clickstream:3": 1}}


def test_partitions_and_topics_have_their_own_watermarks():
    state = empty()
    for position in [
        SourcePosition("clickstream", 3, 10),
        SourcePosition("clickstream", 5, 2),  # lower offset, other partition: new
        SourcePosition("purchase_events", 3, 1),  # same partition number, other topic: new
    ]:
        updated = count_event(state, position)
        assert updated is not None
        state = updated
    assert state["events"] == 3
    assert count_event(state, SourcePosition("clickstream", 5, 2)) is None


def test_marks_never_move_backwards():
    applied = mark_applied({"t:0": 9}, SourcePosition("t", 0, 4))
    assert applied == {"t:0": 9}
    assert is_applied(applied, SourcePosition("t", 0, 9))
    assert not is_applied(applied, SourcePosition("t", 0, 10))
