"""Repeated log lines once per interval, with a count: what keeps a broker outage from flooding the log.

While Kafka is down every Kafka client of a worker (Faust's consumer and producer, the ingest consumer,
each topic follower, the health probe) retries about ten times a second, and each attempt logs:
``aiokafka.client`` "Unable connect to node with id %s: %s" and "Unable to update metadata from %s",
``aiokafka.consumer.fetcher`` "Failed fetch messages from %s: %s", ``aiokafka.consumer.group_coordinator``
"Group Coordinator Request failed: %s", ``aiokafka.producer.sender`` "Got error produce response: %s",
``faust.transport.producer`` "producer buffer full size N" (measured here: ~7,500 lines in a 20 s outage of
one worker, ~10 per second per client; 153,000 were once counted in 15 s). Each is the same line again::

    record ──▶ ThrottleFilter: (logger, level, message template) seen in this interval?
                 no  ─▶ logged (with "[and N more like it in the previous 10 s]" when a window just ended)
                 yes ─▶ counted, dropped
    every interval ──▶ drain(): "<logger>: repeated N more times in the last 10 s: <template>", one line
                       per template whose window ended with lines suppressed

Throttled, the same 20 s outage wrote 15 lines (tests/integration/test_broker_outage.py).

The filter sits on the root logger's handlers (``install``), so it sees records of every logger, and
throttles only the families in ``ThrottleConfig.loggers``; the summary comes from this module's own logger,
which is never throttled. ``RepeatCounter`` is the pure counting part (time passed in).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Hashable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottleConfig:
    #: Seconds in which one kind of line is logged once; the rest are counted and summarised (10 s: an
    #: outage stays visible in the log, each kind of error at most six lines a minute plus its count).
    interval: float = 10.0
    #: Most kinds of line tracked at once; beyond it the oldest is forgotten (bounded memory whatever
    #: the messages hold).
    max_keys: int = 1000
    #: Logger families throttled, and the lowest level throttled in each: warnings and errors, the lines
    #: a retry loop repeats; INFO lines are the start and rebalance story (each group joined, each
    #: partition opened), rare and kept whole.
    loggers: tuple[tuple[str, int], ...] = (
        ("aiokafka", logging.WARNING),
        ("faust", logging.WARNING),
        ("mode", logging.WARNING),
        ("app", logging.WARNING),
        ("agents", logging.WARNING),
    )


class RepeatCounter:
    """How often each key was seen since it was last let through, one window of ``interval`` per key."""

    def __init__(self, interval: float, max_keys: int = 1000) -> None:
        self.interval = interval
        self.max_keys = max_keys
        # key -> [window start, suppressed count]; oldest window first.
        self._windows: OrderedDict[Hashable, list] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def admit(self, key: Hashable, now: float) -> int | None:
        """None: suppress (counted). An int: let it through; the int is how many were suppressed in the
        key's window that just ended and were not reported by ``drain`` yet (usually 0)."""
        window = self._windows.get(key)
        if window is not None and now - window[0] < self.interval:
            window[1] += 1
            return None
        suppressed = window[1] if window is not None else 0
        self._windows[key] = [now, 0]
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        return suppressed

    def drain(self, now: float) -> list[tuple[Hashable, int]]:
        """(key, suppressed) of every window that has ended with something suppressed; those keys start
        afresh (their next line is let through)."""
        ended = [(key, w[1]) for key, w in self._windows.items() if now - w[0] >= self.interval and w[1]]
        for key, _ in ended:
            del self._windows[key]
        # Ended windows with nothing suppressed are forgotten too: they hold no count.
        for key in [k for k, w in self._windows.items() if now - w[0] >= self.interval]:
            del self._windows[key]
        return ended


_DIGITS = re.compile(r"\d+")


def template_of(record: logging.LogRecord) -> str:
    """What makes two records "the same line": the format string, numbers blanked (some libraries format
    their numbers into the message themselves, f-string style)."""
    return _DIGITS.sub("#", str(record.msg))[:300]


class ThrottleFilter(logging.Filter):
    def __init__(self, config: ThrottleConfig = ThrottleConfig(), clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.config = config
        self.counter = RepeatCounter(config.interval, config.max_keys)
        self.clock = clock
        self._lock = threading.Lock()
        self._families = tuple((name, name + ".", level) for name, level in config.loggers)

    def _throttled(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name == log.name:
            return False
        return any(
            (name == family or name.startswith(prefix)) and record.levelno >= level
            for family, prefix, level in self._families
        )

    def filter(self, record: logging.LogRecord) -> bool:
        # The same record passes the filter of every handler: decide once per record.
        verdict = record.__dict__.get("_tm_throttle")
        if verdict is None:
            verdict = record._tm_throttle = self._decide(record)
        return verdict

    def _decide(self, record: logging.LogRecord) -> bool:
        try:
            if not self._throttled(record):
                return True
            key = (record.name, record.levelno, template_of(record))
            with self._lock:
                suppressed = self.counter.admit(key, self.clock())
            if suppressed is None:
                return False
            if suppressed:
                record.msg = f"{record.msg} [and {suppressed} more like it in the previous {self.config.interval:g} s]"
            return True
        except Exception:  # a filter must never break logging
            return True

    def drain(self) -> int:
        """Log one summary line per kind of line suppressed in an ended window; returns how many."""
        with self._lock:
            ended = self.counter.drain(self.clock())
        for (name, level, template), count in ended:
            log.log(level, "%s: repeated %d more times in the last %g s: %s",
                    name, count, self.config.interval, template)
        return len(ended)


def install(config: ThrottleConfig = ThrottleConfig()) -> ThrottleFilter:
    """Put one ``ThrottleFilter`` on every handler of the root logger (call after logging is set up:
    Faust's worker configures it when it starts); returns it, for ``drain``. Idempotent."""
    for handler in logging.root.handlers:
        for existing in handler.filters:
            if isinstance(existing, ThrottleFilter):
                return existing
    throttle = ThrottleFilter(config)
    for handler in logging.root.handlers:
        handler.addFilter(throttle)
    return throttle
