"""``GET /tracker.js``: the browser tracker (``tracker/tracker.js``), and ``GET /demo``: a page embedding it.

Both files are read once at import; a worker without them fails to start rather than serving 404s to sites.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from app.main import app

# The repository's tracker/ (editable installs, tests), else ./tracker (the Docker image's working directory).
_CANDIDATES = (Path(__file__).resolve().parents[2] / "tracker", Path.cwd() / "tracker")


def _tracker_dir() -> Path:
    for folder in _CANDIDATES:
        if (folder / "tracker.js").is_file():
            return folder
    raise RuntimeError(f"tracker/tracker.js not found in {' or '.join(map(str, _CANDIDATES))}")


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    cache_control: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    def matches(self, if_none_match: str | None) -> bool:
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags

    def respond(self, web, request):
        headers = {"Cache-Control": self.cache_control, "ETag": self.etag}
        if self.matches(request.headers.get("If-None-Match")):
            return web.bytes(b"", status=304, headers=headers)
        return web.bytes(self.body, headers={**headers, "Content-Type": self.content_type})


_DIR = _tracker_dir()
# Sites cache the script five minutes; the ETag makes the revalidation after that a 304.
TRACKER_JS = Asset((_DIR / "tracker.js").read_bytes(), "application/javascript; charset=utf-8", "public, max-age=300")
DEMO_HTML = Asset((_DIR / "demo.html").read_bytes(), "text/html; charset=utf-8", "no-cache")


@app.page("/tracker.js", name="tracker_js")
async def tracker_js(web, request):
    return TRACKER_JS.respond(web, request)


@app.page("/demo", name="tracker_demo")
async def tracker_demo(web, request):
    return DEMO_HTML.respond(web, request)
