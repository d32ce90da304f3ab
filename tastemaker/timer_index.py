"""When each person next needs the wall clock (an idle session to close, a rule timer due): a lazy heap.

    set(person, due) ──▶ heap of (due, person) + current due per person
    due(now) ──▶ persons whose current due <= now (entries outdated by a later set are skipped)

In memory on the worker that owns the persons; rebuilt from the persons' state after a restart or a
rebalance (agents/timers.py). Losing it loses nothing: the state knows what is due, the index only says
when to look, and a look that finds nothing due changes nothing.
"""

from __future__ import annotations

import heapq


class TimerIndex:
    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def set(self, person: str, due: float | None) -> None:
        if due is None:
            self._due.pop(person, None)
            return
        if self._due.get(person) == due:
            return
        self._due[person] = due
        heapq.heappush(self._heap, (due, person))
        if len(self._heap) > 4 * len(self._due) + 1024:  # outdated entries pile up: compact
            self._heap = [(d, p) for p, d in self._due.items()]
            heapq.heapify(self._heap)

    def due(self, now: float, limit: int = 10_000) -> list[str]:
        """Persons due at ``now``, at most ``limit``; each is removed until ``set`` again."""
        persons = []
        while self._heap and self._heap[0][0] <= now and len(persons) < limit:
            due, person = heapq.heappop(self._heap)
            if self._due.get(person) == due:
                del self._due[person]
                persons.append(person)
        return persons

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()

    def __len__(self) -> int:
        return len(self._due)
