"""Who may call what: the admin token (rules, forgetting a person) and the sites' write keys.

    admin:  Authorization: Bearer <TASTEMAKER_ADMIN_TOKEN>     (off, 403, while no token is configured)
    site:   the admin token, or a collector write key (HTTP Basic user name), as the collector takes it
"""

from __future__ import annotations

import hmac

from app.main import settings
from app.web.errors import json_error
from tastemaker.ingest.request_body import Refused, parse_write_keys, write_key_source

WRITE_KEYS = parse_write_keys(settings.write_keys)


def _is_admin(request) -> bool:
    given = request.headers.get("Authorization", "")
    return bool(settings.admin_token) and hmac.compare_digest(given.encode(), f"Bearer {settings.admin_token}".encode())


def admin_refusal(web, request):
    """The 401/403 answer for a request without the admin token, or None when it may pass."""
    if not settings.admin_token:
        return json_error(web, 403, "Authorization", "the admin API is off: set TASTEMAKER_ADMIN_TOKEN")
    if not _is_admin(request):
        return json_error(web, 401, "Authorization", "a valid 'Bearer <admin token>' is required")
    return None


def site_refusal(web, request):
    """The 401 answer for a request with neither the admin token nor a write key, or None."""
    if _is_admin(request):
        return None
    try:
        write_key_source(request.headers.get("Authorization"), None, WRITE_KEYS)
    except Refused as refused:
        return web.json(refused.as_json(), status=refused.status)
    return None
