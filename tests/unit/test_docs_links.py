"""The README is the front door and docs/ the manual: every relative link in them resolves, inside the
repository, to a file that exists (and, for a link to a heading, to a heading that exists), and the README
stays short."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 12_000

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def _prose(text: str) -> str:
    """The text outside fenced code blocks and code spans, where a link is a link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _links(text: str) -> list[str]:
    prose = _prose(text)
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def test_the_link_finder_finds_links_and_skips_code():
    text = "[a](docs/x.md) ![b](img.png) [c](https://e.org) `[d](no.md)`\n```\n[e](no2.md)\n```\n[f]: ref.md\n"
    assert sorted(_links(text)) == sorted(["docs/x.md", "img.png", "https://e.org", "ref.md"])
    page = ROOT / "docs" / "configuration.md"
    assert "kafka-topics-and-workers" in _anchors(page)


def test_the_pages_are_found():
    assert README in PAGES and len(PAGES) > 5, PAGES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path):
    broken = []
    for target in _links(page.read_text()):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if resolved != ROOT and ROOT not in resolved.parents:
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_path_outside_the_repository(page: Path):
    """A path written in the text (a code span, a command) must not lead out of the repository either."""
    text = page.read_text()
    outside = sorted({p for p in re.findall(r"(?<![\w/.])((?:\.\./)+[\w./-]*)", text)
                      if ROOT not in (page.parent / p).resolve().parents and (page.parent / p).resolve() != ROOT})
    assert outside == [], f"{page.relative_to(ROOT)} names paths outside the repository: {outside}"
    assert re.findall(r"(?<![\w.])/work/\S*", text) == [], f"{page.relative_to(ROOT)} names a machine's path"


def test_the_readme_is_the_front_door():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; at most {README_MAX_BYTES}: move reference to docs/"
    lines = README.read_text().splitlines()
    # The two commands come first after the title: one runs Tastemaker, one runs every test (.ci/run's).
    assert lines[0] == "# Tastemaker"
    first = "\n".join(lines[1:6])
    assert "make run" in first and "make test" in first, first
    assert "make test" in (ROOT / ".ci" / "run").read_text()
