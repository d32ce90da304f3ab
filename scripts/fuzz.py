"""``make fuzz``: 1,000+ generated requests per endpoint of app/web/openapi.json against a real worker.

    python scripts/fuzz.py [--examples N] [--only SUBSTRING ...] [--json PATH]

Starts a Kafka broker of its own (or uses TASTEMAKER_TEST_BROKER), one worker with every role on a fresh app id,
seeds a few persons, items and a rule, then runs tests/support/fuzz.py's Fuzzer on each operation (Schemathesis
cases, positive and negative, with granting and refused credentials) and prints, per endpoint: requests, answers
by class, server errors, hangs and schema mismatches, then the first failures of each kind. Exits 1 when any
server error, hang or mismatch was found. The worker's log is kept in .run/fuzz/.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.fuzz import WRITE_KEYS, Fuzzer, failures_report, seed, table, write_json  # noqa: E402
from tests.support.kafka import kafka_broker  # noqa: E402
from tests.support.worker import Deployment  # noqa: E402

RUN_DIR = REPO / ".run" / "fuzz"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="requests per endpoint (default 1000)")
    parser.add_argument("--only", nargs="*", default=[], help="only endpoints whose label holds one of these")
    parser.add_argument("--json", type=Path, default=RUN_DIR / "fuzz.json", help="where the full tally goes")
    args = parser.parse_args()

    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    with kafka_broker(RUN_DIR / "kafka") as broker:
        deployment = Deployment(broker, RUN_DIR, TASTEMAKER_WRITE_KEYS=WRITE_KEYS)
        worker = deployment.worker("fuzz").start()
        try:
            asyncio.run(worker.wait_ready(120))
            seed(worker.url)
            fuzzer = Fuzzer(worker.url)
            tallies = {}
            started = time.monotonic()
            for operation in fuzzer.operations():
                if args.only and not any(part in operation.label for part in args.only):
                    continue
                began = time.monotonic()
                tallies[operation.label] = tally = fuzzer.fuzz(operation, args.examples)
                print(f"{operation.label:45} {tally.requests:6} requests {time.monotonic() - began:6.1f} s"
                      f"  problems {tally.problems}", file=sys.stderr, flush=True)
            if not worker.running:
                print(f"the worker died:\n{worker.log_tail()}", file=sys.stderr)
                return 1
        finally:
            deployment.shutdown()
    print(f"\nmake fuzz: {args.examples} generated requests per endpoint against one worker, "
          f"{time.monotonic() - started:.0f} s\n")
    print(table(tallies))
    write_json(args.json, tallies)
    problems = sum(t.problems for t in tallies.values())
    if problems:
        print(f"\n{problems} problems; the first of each kind per endpoint:\n\n{failures_report(tallies)}")
    print(f"\nfull tally: {args.json}; worker log: {worker.log_path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
