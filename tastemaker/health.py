"""Readiness of a worker, decided from facts the Faust glue gathers.

A worker may serve table-backed requests only when all of these hold::

    Kafka reachable ──▶ group joined, assignment received ──▶ not rebalancing ──▶ tables recovered ──▶ catalog read
         │                       │                                 │                     │                  │
    producer/admin          first on_partitions_assigned     revoke .. assign        changelog replay   items topic read
    can fetch metadata      signal of this process           window closed           finished           to its end

Until then ``/health`` answers 503 and names each failing check, so an orchestrator's readiness probe and a
person reading it both see why.

Once ready, a worker stays healthy only while its stages make progress. Each stage (the ingest consumer,
the identity and person agents, the timers, each topic follower) has a ``StageClock``: the glue tells it
when a record was finished and how many records wait for it (consumer lag: the partition's end offset past
the stage's position, plus records fetched and not yet finished). A stage that has records waiting and has
finished none for ``stall_after`` seconds fails its check ``stage:<name>``::

    "stage:ingest": {"ok": false, "detail": "ingest: no record finished for 34 s while 1,200 wait; last error TypeError"}

The clock only runs while the stage can run: a rebalance or a table recovery pauses it (``pause``), so a
long recovery is reported as recovery, not as a stall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Seconds a stage may have records waiting and finish none before /health reports it (the setting
#: TASTEMAKER_STALL_AFTER; settings.py says why the default).
STALL_AFTER = 30.0


@dataclass(frozen=True)
class WorkerFacts:
    kafka_reachable: bool
    assignment_received: bool
    rebalancing: bool
    recovery_complete: bool
    #: The item catalog read to the end of its topic (a worker without the stream role holds none: True).
    catalog_loaded: bool = True
    #: topic -> partitions this worker owns, reported for operators (not part of the verdict: a worker
    #: with more peers than partitions legitimately owns none).
    assigned: dict[str, list[int]] = field(default_factory=dict)
    #: The progress of every stage this worker runs (``StageClock.progress``).
    stages: tuple["StageProgress", ...] = ()


@dataclass(frozen=True)
class StageProgress:
    name: str
    #: Records known to wait for the stage (lag past its position, and fetched but not finished).
    waiting: int
    #: Seconds records have waited while the stage finished none (0 when none wait).
    stalled_for: float
    #: Type of the last failure the stage reported (``TypeError``), if any since it last made progress.
    last_error: str | None = None


class StageClock:
    """One stage's progress as its glue reports it. Times are the caller's (monotonic seconds)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._waiting = 0
        self._waiting_since: float | None = None
        self._finished_at: float | None = None
        self._last_error: str | None = None

    def finished(self, now: float) -> None:
        """One or more records finished (processed, dead-lettered or skipped)."""
        self._finished_at = now
        self._last_error = None

    def failed(self, error: BaseException | str) -> None:
        self._last_error = error if isinstance(error, str) else type(error).__name__

    def waiting(self, count: int, now: float) -> None:
        """``count`` records wait for the stage now."""
        if count <= 0:
            self._waiting, self._waiting_since = 0, None
            return
        if self._waiting_since is None:
            self._waiting_since = now
        self._waiting = count

    def pause(self) -> None:
        """The stage cannot run now (rebalance, table recovery): its stall clock restarts when it can."""
        self._waiting, self._waiting_since = 0, None

    def progress(self, now: float) -> StageProgress:
        if not self._waiting or self._waiting_since is None:
            return StageProgress(self.name, 0, 0.0, self._last_error)
        since = self._waiting_since if self._finished_at is None else max(self._waiting_since, self._finished_at)
        return StageProgress(self.name, self._waiting, max(0.0, now - since), self._last_error)


@dataclass(frozen=True)
class Health:
    ready: bool
    checks: dict[str, dict[str, object]]

    @property
    def http_status(self) -> int:
        return 200 if self.ready else 503

    def as_json(self, facts: WorkerFacts) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not_ready",
            "checks": self.checks,
            "assigned_partitions": facts.assigned,
        }


def assess(facts: WorkerFacts, stall_after: float = STALL_AFTER) -> Health:
    checks: dict[str, dict[str, object]] = {
        "kafka": _check(facts.kafka_reachable, "broker answers metadata requests", "broker unreachable"),
        "assignment": _check(
            facts.assignment_received and not facts.rebalancing,
            "partitions assigned",
            "rebalancing" if facts.assignment_received else "waiting for partition assignment",
        ),
        "recovery": _check(facts.recovery_complete, "tables recovered", "table recovery in progress"),
        "catalog": _check(facts.catalog_loaded, "item catalog read", "reading the item catalog"),
    }
    for stage in facts.stages:
        checks[f"stage:{stage.name}"] = stage_check(stage, stall_after)
    return Health(ready=all(c["ok"] for c in checks.values()), checks=checks)


def stage_check(stage: StageProgress, stall_after: float) -> dict[str, object]:
    if stage.waiting and stage.stalled_for >= stall_after:
        detail = f"{stage.name}: no record finished for {stage.stalled_for:.0f} s while {stage.waiting:,} wait"
        if stage.last_error:
            detail += f"; last error {stage.last_error}"
        return {"ok": False, "detail": detail}
    return {"ok": True, "detail": f"{stage.waiting:,} waiting, progressing" if stage.waiting else "caught up"}


def _check(ok: bool, good: str, bad: str) -> dict[str, object]:
    return {"ok": ok, "detail": good if ok else bad}
