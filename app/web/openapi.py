"""``GET /openapi.json``: the API's OpenAPI 3.1 description (``app/web/openapi.json``), public, on every worker.

The document is the contract the views keep: tests/unit/test_openapi_document.py checks it is valid OpenAPI
3.1 and names exactly the routes the app registers; tests/integration/test_fuzz.py (and ``make fuzz``)
sends generated requests from it to a real worker and checks every answer against it. Read once at import,
like the tracker: a worker without it fails to start rather than serving a 404 to clients.
"""

from __future__ import annotations

from pathlib import Path

from app.main import app

# Beside this module (the repository, editable installs), else ./app/web (the Docker image's working directory).
_CANDIDATES = (Path(__file__).resolve().with_name("openapi.json"), Path.cwd() / "app" / "web" / "openapi.json")


def _document() -> bytes:
    for path in _CANDIDATES:
        if path.is_file():
            return path.read_bytes()
    raise RuntimeError(f"the OpenAPI document is missing: {' or '.join(map(str, _CANDIDATES))}")


DOCUMENT = _document()


@app.page("/openapi.json", name="openapi")
async def openapi(web, request):
    return web.bytes(DOCUMENT, content_type="application/json", headers={"Cache-Control": "no-cache"})
