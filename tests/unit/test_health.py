import pytest

from tastemaker.health import WorkerFacts, assess

READY = dict(kafka_reachable=True, assignment_received=True, rebalancing=False, recovery_complete=True)


def test_ready_when_every_check_holds():
    health = assess(WorkerFacts(**READY))
    assert health.ready and health.http_status == 200
    assert all(check["ok"] for check in health.checks.values())


@pytest.mark.parametrize(
    "change, failing, detail",
    [
        ({"kafka_reachable": False}, "kafka", "broker unreachable"),
        ({"assignment_received": False}, "assignment", "waiting for partition assignment"),
        ({"rebalancing": True}, "assignment", "rebalancing"),
        ({"recovery_complete": False}, "recovery", "table recovery in progress"),
        ({"catalog_loaded": False}, "catalog", "reading the item catalog"),
    ],
)
def test_each_failing_fact_makes_it_503_and_is_named(change, failing, detail):
    facts = WorkerFacts(**{**READY, **change})
    health = assess(facts)
    assert health.http_status == 503
    assert [name for name, c in health.checks.items() if not c["ok"]] == [failing]
    assert health.checks[failing]["detail"] == detail
    assert health.as_json(facts)["status"] == "not_ready"


def test_a_worker_owning_no_partitions_can_still_be_ready():
    # More workers than partitions: the spare one joined the group and is healthy, just idle.
    facts = WorkerFacts(**READY, assigned={})
    assert assess(facts).ready
