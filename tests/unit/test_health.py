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


from tastemaker.health import StageClock, StageProgress  # noqa: E402


def test_a_stage_with_records_waiting_and_none_finished_fails_after_the_stall_time():
    clock = StageClock("ingest")
    clock.waiting(1200, now=100.0)
    clock.failed(TypeError("Recursion limit reached"))
    assert assess(WorkerFacts(**READY, stages=(clock.progress(now=129.0),)), stall_after=30).ready
    facts = WorkerFacts(**READY, stages=(clock.progress(now=134.0),))
    health = assess(facts, stall_after=30)
    assert health.http_status == 503
    assert [name for name, c in health.checks.items() if not c["ok"]] == ["stage:ingest"]
    assert health.checks["stage:ingest"]["detail"] == (
        "ingest: no record finished for 34 s while 1,200 wait; last error TypeError")


def test_a_stage_that_finishes_records_or_has_none_waiting_is_healthy():
    busy, idle = StageClock("person"), StageClock("timers")
    busy.waiting(50, now=0.0)
    for second in range(1, 100):
        busy.finished(now=float(second))
        busy.waiting(50, now=float(second))
    idle.finished(now=0.0)  # finished long ago, nothing waiting since
    idle.waiting(0, now=99.0)
    stages = (busy.progress(now=100.0), idle.progress(now=1000.0))
    health = assess(WorkerFacts(**READY, stages=stages), stall_after=30)
    assert health.ready
    assert health.checks["stage:person"]["detail"] == "50 waiting, progressing"
    assert health.checks["stage:timers"]["detail"] == "caught up"


def test_the_stall_clock_starts_when_records_start_waiting_not_at_the_last_progress():
    # Idle for an hour, then records arrive: the stage has the full stall time to finish one.
    clock = StageClock("identity")
    clock.finished(now=0.0)
    clock.waiting(3, now=3600.0)
    assert clock.progress(now=3610.0) == StageProgress("identity", 3, 10.0, None)


def test_a_pause_restarts_the_stall_clock_and_progress_clears_the_last_error():
    clock = StageClock("person")
    clock.waiting(10, now=0.0)
    clock.failed("KafkaTimeoutError")
    clock.pause()  # a rebalance: the agents cannot run
    assert clock.progress(now=100.0).waiting == 0
    clock.waiting(10, now=100.0)
    assert clock.progress(now=120.0).stalled_for == 20.0
    clock.finished(now=125.0)
    assert clock.progress(now=126.0) == StageProgress("person", 10, 1.0, None)
