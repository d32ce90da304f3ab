"""Readiness of a worker, decided from facts the Faust glue gathers.

A worker may serve table-backed requests only when all of these hold::

    Kafka reachable ──▶ group joined, assignment received ──▶ not rebalancing ──▶ tables recovered ──▶ catalog read
         │                       │                                 │                     │                  │
    producer/admin          first on_partitions_assigned     revoke .. assign        changelog replay   items topic read
    can fetch metadata      signal of this process           window closed           finished           to its end

Until then ``/health`` answers 503 and names each failing check, so an orchestrator's readiness probe and a
person reading it both see why.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


def assess(facts: WorkerFacts) -> Health:
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
    return Health(ready=all(c["ok"] for c in checks.values()), checks=checks)


def _check(ok: bool, good: str, bad: str) -> dict[str, object]:
    return {"ok": ok, "detail": good if ok else bad}
