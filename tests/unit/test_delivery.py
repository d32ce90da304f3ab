from tastemaker.delivery import SourcePosition, is_applied, mark_applied, merge_applied


def test_position_round_trips_through_its_headers():
    position = SourcePosition("shop.clickstream", 3, 41)
    assert SourcePosition.decode(position.encode()) == position
    assert SourcePosition.decode("a:b:c:7:9") == SourcePosition("a:b:c", 7, 9)  # topic names may hold ':'
    via = SourcePosition("shop.clickstream", 3, 41, via="anon:1")
    assert SourcePosition.from_headers(via.headers()) == via
    assert SourcePosition.from_headers({}) is None


def test_a_record_is_applied_once_however_often_it_is_delivered():
    applied: dict[str, int] = {}
    done = []
    for offset in [0, 1, 1, 0, 2]:
        position = SourcePosition("clickstream", 3, offset, "alice")
        if not is_applied(applied, position):
            applied = mark_applied(applied, position)
            done.append(offset)
    assert done == [0, 1, 2]
    assert applied == {"clickstream:3|alice": 2}


def test_partitions_topics_and_ids_have_their_own_watermarks():
    applied = mark_applied({}, SourcePosition("clickstream", 3, 10, "alice"))
    assert not is_applied(applied, SourcePosition("clickstream", 5, 2, "alice"))  # other partition
    assert not is_applied(applied, SourcePosition("purchase_events", 3, 1, "alice"))  # other topic
    # Another id of the same person arrives through another path, possibly late: its own watermark.
    assert not is_applied(applied, SourcePosition("clickstream", 3, 4, "anon-1"))
    assert is_applied(applied, SourcePosition("clickstream", 3, 9, "alice"))


def test_merged_watermarks_keep_the_highest_of_each_stream():
    merged = merge_applied({"a|x": 3, "b|x": 9}, {"a|x": 5, "c|y": 1})
    assert merged == {"a|x": 5, "b|x": 9, "c|y": 1}
