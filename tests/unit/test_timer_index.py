from tastemaker.timer_index import TimerIndex


def test_persons_come_due_once_at_their_latest_time():
    index = TimerIndex()
    index.set("ann", 10)
    index.set("bob", 5)
    index.set("ann", 20)  # moved: the entry at 10 is outdated
    index.set("cid", 7)
    index.set("cid", None)  # nothing due any more
    assert index.due(9) == ["bob"]
    assert index.due(15) == []
    assert index.due(25) == ["ann"]
    assert index.due(100) == [] and len(index) == 0


def test_many_updates_keep_the_heap_bounded():
    index = TimerIndex()
    for n in range(20_000):
        index.set("same", float(n))
    assert len(index._heap) <= 4 + 1024 + 1
    assert index.due(1e9) == ["same"]
