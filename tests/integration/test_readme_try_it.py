"""The README's "Try it", run as a new user runs it: every command of its ```sh blocks, read from the README
itself, against a real worker configured as ``make run`` configures one, checked against what the command's
comment says it prints or does.

The commands are run with bash in a temporary directory (the README's ``items.jsonl`` is written there; the
repository's ``rules`` and ``examples`` are linked into it), each with only what a fresh shell has plus where
the test deployment is (its broker, app id and topic prefix). Two rewrites: the worker's address
``127.0.0.1:6066`` becomes the test worker's, and ``.venv/bin/faust`` the faust beside this Python. The
development credentials are read from scripts/run.sh, so the README and ``make run`` cannot drift apart
either. What the test adds to the README's sequence, each bounded: it waits for /health 200 before the first
command (as ``make run`` does before it prints "Tastemaker is running"), reads are repeated until the
pipeline has caught up (a person typing gives it seconds), the rules just applied are awaited on the worker,
and the decision stream is awaited open (its ``: connected``) before the events it should report are sent.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from tests.support.ports import free_port
from tests.support.readme_shell import Background, Command, commands, run
from tests.support.worker import REPO

pytestmark = pytest.mark.integration

README = REPO / "README.md"
RUN_SH = REPO / "scripts" / "run.sh"
HEADING = "Try it"
README_ADDRESS = "127.0.0.1:6066"
README_FAUST = ".venv/bin/faust"
FAUST = Path(sys.executable).parent / "faust"
LINKED = ("rules", "examples")  # repository paths the commands name relative to the checkout

CURL_TIMEOUT = 30.0
FAUST_TIMEOUT = 180.0


def make_run_defaults() -> dict[str, str]:
    """The development credentials scripts/run.sh exports when they are not set: ``export X=${X:-value}``."""
    found = dict(re.findall(r"^export (TASTEMAKER_\w+)=\$\{\1:-([^}]*)\}\s*$", RUN_SH.read_text(), re.M))
    wanted = {"TASTEMAKER_WRITE_KEYS", "TASTEMAKER_ADMIN_TOKENS", "TASTEMAKER_READ_TOKENS",
              "TASTEMAKER_PEER_TOKEN", "TASTEMAKER_VISITOR_SECRETS"}
    assert wanted <= found.keys(), f"scripts/run.sh no longer sets development defaults for {wanted - found.keys()}"
    return found


def example_rule_ids() -> set[str]:
    """The ids of the rules in rules/examples (what `rules apply rules/examples` applies)."""
    text = "\n".join(path.read_text() for path in sorted((REPO / "rules" / "examples").glob("*.y*ml")))
    return set(re.findall(r"^id:\s*(\S+)", text, re.M))


def json_values(text: str) -> list[Any]:
    """Every JSON value of ``text``, one after another (curl prints answers without a newline)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def one_json(text: str) -> Any:
    values = json_values(text)
    assert len(values) == 1, f"expected one JSON answer, got {len(values)}"
    return values[0]


class Refused(Exception):
    """An answer no waiting changes: the request itself is wrong (bad credentials, a bad query)."""


def answer(output: str) -> Any:
    """The one JSON answer of a curl command; ``Refused`` for an error answer that retrying cannot cure."""
    body = one_json(output)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("status") in (400, 401, 403, 405, 413, 422):
        raise Refused(f"answered {error.get('status')}: {error}")
    return body


def server_sent_decisions(text: str) -> list[dict]:
    """The data of each ``event: decision`` of a server-sent event stream."""
    found = []
    for chunk in re.split(r"\r?\n\r?\n", text):
        lines = chunk.splitlines()
        if "event: decision" in lines:
            data = "\n".join(line[5:].lstrip() for line in lines if line.startswith("data:"))
            try:
                found.append(json.loads(data))
            except ValueError:
                pass
    return found


@dataclass
class Shell:
    """What the commands share: the worker, the directory and environment they run in, what earlier
    commands left (shell variables, the promise of /v1/track, the trained model's version)."""

    deployment: Any
    worker: Any
    cwd: Path
    env: dict[str, str]
    credentials: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)
    stream: Background | None = None
    track_promise: dict | None = None
    model_version: str | None = None

    def environment(self, **overrides: str) -> dict[str, str]:
        return {**self.env, **self.variables, **overrides}

    @staticmethod
    def fail(command: Command, why: str, status: int | None = None, output: str = "") -> None:
        ran = f"\n  exit status: {'timed out' if status is None else status}" if output or status is not None else ""
        raise AssertionError(f"{command.describe()}\n{why}{ran}\n  output:\n{output}")

    async def run(self, command: Command, timeout: float, **env: str) -> str:
        """The command's output; a failure naming it when it exits non-zero or outlives ``timeout``."""
        status, output = await run(command.script, self.cwd, self.environment(**env), timeout)
        if status != 0:
            self.fail(command, f"failed (timeout {timeout:.0f} s)", status, output)
        return output

    async def eventually(self, command: Command, check: Callable[[str], Any], what: str, timeout: float = 60.0):
        """Run a read until ``check(output)`` passes (returning its value); after ``timeout`` a failure naming
        the command, what was expected and the last output."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status, output = await run(command.script, self.cwd, self.environment(), CURL_TIMEOUT)
            refused = None
            if status == 0:
                try:
                    return check(output)
                except Refused as error:
                    refused = error
                except (AssertionError, ValueError, KeyError, TypeError, IndexError) as error:
                    problem = f"{type(error).__name__}: {error}"
            else:
                problem = f"exit status {status}"
            if refused is not None:
                self.fail(command, f"refused, which no waiting changes ({refused})", status, output)
            if asyncio.get_running_loop().time() > deadline:
                self.fail(command, f"{what} not seen within {timeout:.0f} s (last: {problem})", status, output)
            await asyncio.sleep(0.5)

    async def admin_get(self, path: str) -> tuple[int, Any]:
        return await self.worker.get_json(path, token=self.credentials["TASTEMAKER_ADMIN_TOKENS"].split(",")[0])


# --- what each README command promises -----------------------------------------------------------------------

async def track(shell: Shell, command: Command) -> None:
    promise = json.loads(command.comment)  # the README shows the answer: {"success":true,"accepted":1}
    body = one_json(await shell.run(command, CURL_TIMEOUT))
    if not (isinstance(body, dict) and promise.items() <= body.items()):
        shell.fail(command, f"answered {body}, the README promises {promise}")
    shell.track_promise = promise


async def profile(shell: Shell, command: Command) -> None:
    person = re.search(r"/profiles/([^/?\s'\"]+)", command.flat).group(1)

    def check(output: str) -> dict:
        body = answer(output)
        assert body["id"] == person and body["person"] == person and person in body["ids"], body
        assert body["profile"]["events"] >= 1, body["profile"]
        return body

    await shell.eventually(command, check, f'the profile of {person!r} with "events" >= 1')


async def health(shell: Shell, command: Command) -> None:
    def check(output: str) -> dict:
        body = answer(output)
        assert body["status"] == "ready", {k: v for k, v in body["checks"].items() if not v["ok"]}
        return body

    await shell.eventually(command, check, 'health "status": "ready"')
    seen = await shell.worker.health()
    if not seen or seen[0] != 200:
        shell.fail(command, f"GET /health answered {seen and seen[0]}, the README says 200")


async def rules_apply(shell: Shell, command: Command) -> None:
    output = await shell.run(command, FAUST_TIMEOUT)
    applied = {line.split()[-1] for line in output.splitlines() if line.strip()}
    on_disk = example_rule_ids()
    if not on_disk or not on_disk <= applied:
        shell.fail(command, f"did not report applying {sorted(on_disk - applied)}", 0, output)
    # The worker follows the rules topic: wait (bounded) until it holds what was applied.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        status, body = await shell.admin_get("/rules")
        held = {rule["id"] for rule in body.get("rules", ())} if status == 200 else set()
        if on_disk <= held:
            return
        if asyncio.get_running_loop().time() > deadline:
            shell.fail(command, f"applied, but after 30 s the worker's GET /rules shows {status} {sorted(held)}",
                       0, output)
        await asyncio.sleep(0.2)


async def visitor_token(shell: Shell, command: Command) -> None:
    name = command.assigns
    # Run the assignment as written, then print what it set: the next commands see it as ``$name``.
    status, output = await run(f'{command.script}\nprintf "%s" "${{{name}}}"', shell.cwd, shell.environment(),
                               FAUST_TIMEOUT)
    value = output.strip().splitlines()[-1] if output.strip() else ""
    if status != 0 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]{20,}", value):
        shell.fail(command, f"did not set ${name} to a visitor token", status, output)
    shell.variables[name] = value


async def decision_stream(shell: Shell, command: Command) -> None:
    assert command.background, command.text
    shell.stream = await Background(command).start(shell.cwd, shell.environment())
    # Open (authorized with the visitor token) before the events it should report are sent.
    await shell.stream.wait_for(lambda text: ": connected" in text, CURL_TIMEOUT, 'stream opening (": connected")')


async def tracks_with_decision(shell: Shell, command: Command) -> None:
    rule = re.search(r'"rule_id":"([^"]+)"', command.comment)
    if not rule or "event: decision" not in command.comment:
        shell.fail(command, 'its comment no longer names the decision event and "rule_id" it promises')
    rule = rule.group(1)
    output = await shell.run(command, 3 * CURL_TIMEOUT)
    answers = json_values(output)
    loops = len(re.search(r"^for \w+ in ([^;]+);", command.flat).group(1).split())
    promise = shell.track_promise or {"success": True}
    if len(answers) != loops or not all(isinstance(a, dict) and promise.items() <= a.items() for a in answers):
        shell.fail(command, f"expected {loops} answers each with {promise}", 0, output)
    if shell.stream is None:
        shell.fail(command, "no decision stream was started before it (the README's `curl -sN ... &`)")
    await shell.stream.wait_for(lambda text: any(d.get("rule_id") == rule for d in server_sent_decisions(text)),
                                40.0, f'"event: decision" naming rule {rule!r}')
    assert f'"rule_id":"{rule}"' in shell.stream.text  # as the README shows it
    await shell.stream.stop()


async def catalog_file(shell: Shell, command: Command) -> None:
    await shell.run(command, CURL_TIMEOUT)
    path = shell.cwd / re.search(r">\s*(\S+)\s*$", command.flat).group(1)
    lines = path.read_text().splitlines() if path.exists() else []
    items = [json.loads(line) for line in lines]
    if not items or not all(isinstance(i, dict) and i.get("item_id") for i in items):
        shell.fail(command, f"{path.name} does not hold items: {lines}")


async def items_import(shell: Shell, command: Command) -> None:
    name = re.search(r"items import (\S+)", command.flat).group(1)
    count = len((shell.cwd / name).read_text().splitlines())
    output = await shell.run(command, FAUST_TIMEOUT)
    if f"imported {count} items" not in output or "0 lines refused" not in output:
        shell.fail(command, f"did not report importing all {count} items of {name}", 0, output)


async def train(shell: Shell, command: Command) -> None:
    output = await shell.run(command, FAUST_TIMEOUT)
    version = re.search(r"^model (\S+):", output, re.M)
    if not version or not re.search(r"^promoted:", output, re.M):
        shell.fail(command, "did not report a promoted model", 0, output)
    shell.model_version = version.group(1)


async def recommendations(shell: Shell, command: Command) -> None:
    # The keys the README shows for each item: {"items":[{"item_id":..,"score":..,"source":..,"reason":..}],...}
    keys = set(re.findall(r'"(\w+)":', command.comment.split('"items":', 1)[-1]))
    assert "item_id" in keys, command.comment

    def check(output: str) -> dict:
        body = answer(output)
        assert isinstance(body["items"], list) and body["items"], body
        assert all(keys <= item.keys() for item in body["items"]), body["items"]
        # The model `train` just promoted reaches every worker (the models topic): the list comes from it.
        assert shell.model_version is None or body["model_version"] == shell.model_version, body
        return body

    await shell.eventually(command, check, f'an "items" list with {sorted(keys)} from model {shell.model_version}')


async def backtest(shell: Shell, command: Command) -> None:
    # "no broker needed": run it pointed at a port where nothing listens.
    output = await shell.run(command, FAUST_TIMEOUT, TASTEMAKER_BROKER=f"kafka://127.0.0.1:{free_port()}")
    lines = output.splitlines()
    summary = [line for line in lines if re.match(r"^\d+ events of \d+ persons", line)]
    columns = re.compile(r"^rule\s+firings\s+persons\s+decisions\s+suppressed")
    header = [i for i, line in enumerate(lines) if columns.match(line)]
    if not summary or summary[0].startswith("0 ") or not header:
        shell.fail(command, "did not print the backtest table (summary line, header)", 0, output)
    rows = {line.split()[0] for line in lines[header[0] + 1:] if line.strip()}
    on_disk = example_rule_ids()
    if not on_disk <= rows:
        shell.fail(command, f"the table has no row for {sorted(on_disk - rows)}", 0, output)


Check = Callable[[Shell, Command], Awaitable[None]]
CHECKS: list[tuple[str, Callable[[Command], bool], Check]] = [
    ("send an event", lambda c: bool(re.match(r"curl .*/v1/track", c.flat)), track),
    ("read the profile", lambda c: bool(re.match(r"curl .*/profiles/", c.flat)), profile),
    ("health", lambda c: bool(re.match(r"curl .*/health\b", c.flat)), health),
    ("apply rules", lambda c: "faust -A app rules apply " in c.flat, rules_apply),
    ("issue a visitor token", lambda c: c.assigns is not None and "visitor-token" in c.flat, visitor_token),
    ("open the decision stream", lambda c: c.background and "/decisions/" in c.flat, decision_stream),
    ("send events, see a decision", lambda c: bool(re.match(r"for .*/v1/track", c.flat)), tracks_with_decision),
    ("write a catalog file", lambda c: bool(re.match(r"printf .*>\s*\S+\s*$", c.flat)), catalog_file),
    ("import the catalog", lambda c: "faust -A app items import " in c.flat, items_import),
    ("train", lambda c: bool(re.search(r"faust -A app train\b", c.flat)), train),
    ("ask for recommendations", lambda c: bool(re.match(r"curl .*/recommendations/", c.flat)), recommendations),
    ("backtest offline", lambda c: "faust -A app rules backtest " in c.flat, backtest),
]


def plan(found: list[Command]) -> list[tuple[Command, Check]]:
    """Each README command with its check; every command needs exactly one and every check a command."""
    planned, used = [], set()
    for command in found:
        matching = [(name, check) for name, matches, check in CHECKS if matches(command)]
        if len(matching) != 1:
            raise AssertionError(f"{command.describe()}\nmatches {len(matching)} of this test's checks "
                                 f"({[name for name, _ in matching]}): teach the test what this command promises")
        if "http://" in command.flat and README_ADDRESS not in command.flat:
            raise AssertionError(f"{command.describe()}\ntalks to a worker elsewhere than {README_ADDRESS}")
        used.add(matching[0][0])
        planned.append((command, matching[0][1]))
    missing = [name for name, _, _ in CHECKS if name not in used]
    assert not missing, (f'the README\'s "{HEADING}" no longer has commands to {missing} '
                         f"(found: {[c.flat for c in found]})")
    return planned


async def test_the_readme_try_it_commands_do_what_their_comments_say(deployment, tmp_path):
    planned = plan(commands(README, HEADING))

    credentials = make_run_defaults()
    deployment.env.update(credentials)
    deployment.env.pop("TASTEMAKER_SESSION_TIMEOUT", None)  # `make run` leaves it at its default
    worker = deployment.worker("make-run").start()
    await worker.wait_ready(timeout=120)  # `make run` says "Tastemaker is running" once /health answers 200

    cwd = tmp_path / "shell"
    cwd.mkdir()
    for name in LINKED:
        (cwd / name).symlink_to(REPO / name)
    # A fresh shell's environment (none of the worker's settings or secrets), told where the deployment is.
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASTEMAKER_")}
    env.update(PYTHONPATH=str(REPO), TASTEMAKER_DATA_DIR=str(tmp_path / "cli-data"),
               **{key: deployment.env[key]
                  for key in ("TASTEMAKER_BROKER", "TASTEMAKER_APP_ID", "TASTEMAKER_TOPIC_PREFIX")})
    shell = Shell(deployment, worker, cwd, env, credentials)
    replacements = {README_ADDRESS: f"127.0.0.1:{worker.port}", README_FAUST: shlex.quote(str(FAUST))}
    try:
        for command, check in planned:
            await check(shell, command.rewrite(replacements))
    finally:
        if shell.stream is not None:
            await shell.stream.stop()
