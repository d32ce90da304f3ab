"""Repeated log lines once per interval with a count (app/log_throttle.py)."""

import logging

import pytest

from app.log_throttle import RepeatCounter, ThrottleConfig, ThrottleFilter, install, template_of


def test_a_key_passes_once_per_interval_and_the_rest_are_counted():
    counter = RepeatCounter(interval=10.0)
    assert counter.admit("k", 0.0) == 0
    assert [counter.admit("k", t) for t in (0.1, 3.0, 9.9)] == [None, None, None]
    assert counter.admit("other", 5.0) == 0  # each key has its own window
    assert counter.drain(9.99) == []  # no window has ended yet
    assert counter.drain(10.0) == [("k", 3)]  # ended with 3 suppressed: reported once, and forgotten
    assert counter.drain(20.0) == []  # "other" ended with nothing suppressed: nothing to say
    assert counter.admit("k", 12.0) == 0  # a fresh window: passes again


def test_a_window_ended_but_not_drained_hands_its_count_to_the_next_line():
    counter = RepeatCounter(interval=10.0)
    counter.admit("k", 0.0)
    counter.admit("k", 1.0)
    counter.admit("k", 2.0)
    assert counter.admit("k", 10.5) == 2
    assert counter.drain(11.0) == []


def test_the_table_of_keys_is_bounded():
    counter = RepeatCounter(interval=10.0, max_keys=50)
    for n in range(1000):
        counter.admit(f"line {n}", 0.0)
    assert len(counter) == 50


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged():
    """A logger tree on a handler of its own with a ThrottleFilter; yields (records, filter, clock)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    clock = Clock()
    throttle = ThrottleFilter(ThrottleConfig(interval=10.0), clock=clock)
    handlers = [Keep(), Keep()]  # two handlers: one verdict per record, not one per handler
    for handler in handlers:
        handler.addFilter(throttle)
    loggers = [logging.getLogger(name) for name in ("aiokafka", "faust", "app", "tastemaker", "app.log_throttle")]
    for logger in loggers:
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    yield records, throttle, clock
    for logger in loggers:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def messages(records):
    return [r.getMessage() for r in records[::2]]  # each record reaches both handlers


def test_a_retry_storm_becomes_one_line_per_interval_and_a_count(logged):
    records, throttle, clock = logged
    client = logging.getLogger("aiokafka.client")  # a child: the filter sits on the handler, not the logger
    for attempt in range(500):
        clock.now = attempt * 0.01
        client.error("Unable connect to node with id %s: %s", 1, f"[Errno 111] Connect call failed ({attempt})")
    assert messages(records) == ["Unable connect to node with id 1: [Errno 111] Connect call failed (0)"]
    clock.now = 10.0
    assert throttle.drain() == 1
    assert messages(records)[-1] == (
        "aiokafka.client: repeated 499 more times in the last 10 s: Unable connect to node with id %s: %s"
    )
    assert records[-1].levelno == logging.ERROR
    client.error("Unable connect to node with id %s: %s", 1, "again")
    assert len(messages(records)) == 3  # a new interval: the line passes again


def test_lines_formatted_by_the_library_itself_count_as_one(logged):
    records, _, clock = logged
    for size in range(100, 130):
        logging.getLogger("faust.transport.producer").warning(f"producer buffer full size {size}")
    assert messages(records) == ["producer buffer full size 100"]
    assert template_of(records[0]) == "producer buffer full size #"


def test_only_the_configured_families_and_levels_are_throttled(logged):
    records, _, _ = logged
    for _ in range(3):
        logging.getLogger("faust.tables").info("opening partition %s", 3)  # Faust INFO: kept whole
        logging.getLogger("tastemaker.anything").warning("not a throttled family")
        logging.getLogger("aiokafka.consumer.group_coordinator").info("Joined group %r", "tm")  # INFO: kept
        logging.getLogger("aiokafka.consumer.fetcher").error("Failed fetch messages from %s", 1)  # throttled
    assert messages(records).count("opening partition 3") == 3
    assert messages(records).count("not a throttled family") == 3
    assert messages(records).count("Joined group 'tm'") == 3
    assert messages(records).count("Failed fetch messages from 1") == 1


def test_the_summary_line_is_never_throttled(logged):
    records, throttle, clock = logged
    for n in range(3):
        for _ in range(5):
            logging.getLogger("app.topic_follower").warning("following %s: %r; retrying", "rules", "KafkaError")
        clock.now += 10.0
        assert throttle.drain() == 1
    assert sum("repeated 4 more times" in m for m in messages(records)) == 3


def test_install_puts_one_filter_on_the_root_handlers():
    handler = logging.StreamHandler()
    logging.root.addHandler(handler)
    first = None
    try:
        first = install()
        assert install() is first
        assert handler.filters.count(first) == 1
    finally:
        logging.root.removeHandler(handler)
        for other in logging.root.handlers:  # pytest's own capture handlers got it too
            other.removeFilter(first)
