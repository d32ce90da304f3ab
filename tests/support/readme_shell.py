"""The shell commands of a README section, as a new user would paste them, and a way to run them.

``commands(README, "Try it")`` reads the fenced ```sh blocks under that ``## `` heading (up to the next one)
and splits them into logical commands: physical lines joined where a line ends in a backslash, the trailing
``# comment`` (what the README promises the command prints or does) kept apart from the code. Nothing is
taken from anywhere but the README, so a test built on it breaks when the README drifts.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

FENCE_OPEN = re.compile(r"^```(?:sh|bash|shell)\s*$")
FENCE_CLOSE = re.compile(r"^```\s*$")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=\$\(")


@dataclass
class Command:
    """One logical command of a README block: ``text`` as the README has it (continuations included),
    ``code`` without the trailing comment, ``comment`` the comment's text (or "")."""

    block: int
    text: str
    code: str
    comment: str
    script: str = ""  # what is run: ``code`` after the test's rewrites (see ``rewrite``)
    rewrites: list[str] = field(default_factory=list)

    @property
    def flat(self) -> str:
        """The code on one line (continuations joined), for matching and messages."""
        return re.sub(r"\s*\\\n\s*", " ", self.code).strip()

    @property
    def background(self) -> bool:
        return self.code.rstrip().endswith("&") and not self.code.rstrip().endswith("&&")

    @property
    def foreground_script(self) -> str:
        """``script`` without a trailing ``&``: the test starts and stops a background command itself."""
        return re.sub(r"\s*&\s*$", "", self.script.rstrip()) if self.background else self.script

    @property
    def assigns(self) -> str | None:
        """The variable a ``name=$(...)`` command sets, or None."""
        found = ASSIGNMENT.match(self.flat)
        return found.group(1) if found else None

    def rewrite(self, replacements: dict[str, str]) -> "Command":
        script = self.code
        for old, new in replacements.items():
            if old in script:
                script = script.replace(old, new)
                self.rewrites.append(f"{old} -> {new}")
        self.script = script
        return self

    def describe(self) -> str:
        said = f"README \"Try it\" block {self.block + 1}:\n    {self.text}"
        if self.rewrites:
            said += "\n  run with " + "; ".join(self.rewrites)
        return said


def section(markdown: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``## `` heading."""
    lines = markdown.splitlines()
    starts = [i for i, line in enumerate(lines) if re.fullmatch(rf"##\s+{re.escape(heading)}\s*", line)]
    if len(starts) != 1:
        raise AssertionError(f"README: expected one '## {heading}' heading, found {len(starts)}")
    end = next((i for i in range(starts[0] + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[starts[0] + 1:end])


def blocks(text: str) -> list[str]:
    """The bodies of the fenced sh/bash/shell blocks of ``text``, in order."""
    found, current = [], None
    for line in text.splitlines():
        if current is None:
            if FENCE_OPEN.match(line):
                current = []
        elif FENCE_CLOSE.match(line):
            found.append("\n".join(current))
            current = None
        else:
            current.append(line)
    if current is not None:
        raise AssertionError("README: a fenced block is never closed")
    return found


def split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of one logical command: the comment starts at an unquoted ``#`` that begins a word."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote == "'":
            if c == "'":
                quote = None
        elif c == "\\":
            i += 1  # the next character is escaped (outside single quotes)
        elif quote == '"':
            if c == '"':
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
        i += 1
    return line.rstrip(), ""


def commands(readme: Path, heading: str) -> list[Command]:
    found = []
    for number, body in enumerate(blocks(section(readme.read_text(encoding="utf-8"), heading))):
        pending: list[str] = []
        for line in body.splitlines():
            if not pending and not line.strip():
                continue
            pending.append(line)
            if line.rstrip().endswith("\\"):
                continue
            text = "\n".join(pending)
            pending = []
            code, comment = split_comment(text)
            if code.strip():
                found.append(Command(number, text, code, comment))
        if pending:
            raise AssertionError(f"README block {number + 1} ends in a line continuation: {pending[-1]!r}")
    return found


async def run(script: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """(exit status, stdout and stderr) of ``bash -c script``; None for the status when it outlived
    ``timeout`` seconds (its process group is then killed)."""
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", script, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
        return process.returncode, out.decode(errors="replace")
    except asyncio.TimeoutError:
        kill_group(process)
        out = await process.stdout.read() if process.stdout else b""
        await process.wait()
        return None, out.decode(errors="replace")


def kill_group(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Background:
    """A command the README runs with ``&``: started in its own process group, its output collected as it
    comes, stopped by the test."""

    def __init__(self, command: Command):
        self.command = command
        self.process: asyncio.subprocess.Process | None = None
        self.output = bytearray()
        self._reader: asyncio.Task | None = None

    async def start(self, cwd: Path, env: dict[str, str]) -> "Background":
        self.process = await asyncio.create_subprocess_exec(
            "bash", "-c", self.command.foreground_script, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while chunk := await self.process.stdout.read(4096):
            self.output.extend(chunk)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def wait_for(self, check, timeout: float, what: str) -> None:
        """Until ``check(text so far)`` holds; an AssertionError naming ``what`` after ``timeout`` seconds
        or when the command ends first."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check(self.text):
            if self.process.returncode is not None and self._reader.done():
                raise AssertionError(f"{self.command.describe()}\nended (exit {self.process.returncode}) before "
                                     f"{what}; its output:\n{self.text}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{self.command.describe()}\nno {what} within {timeout:.0f} s; its output:\n"
                                     f"{self.text}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.process is None:
            return
        kill_group(self.process)  # the whole group: bash may have left its curl running
        await self.process.wait()
        if self._reader:
            await asyncio.wait_for(self._reader, 10)
