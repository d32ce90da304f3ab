"""Where a worker's CPU went: sums the collapsed stacks py-spy wrote (``make bench-pipeline BENCH_PROFILE=1``)
into shares of the samples, by function (self and inclusive) and by the stage a stack runs in.

    .venv/bin/python bench/profile_summary.py bench/results/pipeline-profile-<time>.txt [--top 40]

A stage is named by the first frame of the stack in one of the pipeline's own modules (agents/ingest.py,
agents/identity.py, agents/person.py, ...); stacks that never reach one are Faust's, aiokafka's and the event
loop's own work ("framework"), idle waits included (py-spy samples idle threads only with --idle, which the
benchmark does not pass).
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")
STAGES = ("agents/ingest.py", "agents/identity.py", "agents/person.py", "agents/timers.py", "agents/trending.py",
          "agents/stream_core.py", "app/web", "app/topic_follower.py", "app/rulebook.py", "app/catalog.py")


def short(file: str) -> str:
    for marker in ("site-packages/", "/main/", "/lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    own: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    stages: collections.Counter = collections.Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for frame in stack.split(";")[1:]:  # the first is the thread
            match = _FRAME.match(frame)
            frames.append(f"{match['function']} ({short(match['file'])})" if match else frame)
        if frames:
            own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
        stage = next((s for frame in frames for s in STAGES if s in frame), "framework")
        stages[stage] += n
    print(f"{total} samples")
    print("\nby stage (first own module on the stack):")
    for name, n in stages.most_common():
        print(f"  {n / total:6.1%}  {name}")
    print(f"\ninclusive (top {args.top}):")
    for name, n in inclusive.most_common(args.top):
        print(f"  {n / total:6.1%}  {name}")
    print(f"\nself (top {args.top}):")
    for name, n in own.most_common(args.top):
        print(f"  {n / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
