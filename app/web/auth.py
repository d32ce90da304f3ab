"""Who may call what, for every view: ``require(web, request, need, person_id)`` -> the refusal, or None.

    request ──▶ require ──▶ tastemaker/access.check (Authorization: Bearer, or ?access_token= where allowed)
            ──▶ None: go on │ 401 (+ WWW-Authenticate: Bearer) / 403 {"error": {"status", "field", "reason"}}

The needs (tastemaker/access.py): PERSON_READ (read scope, a forwarding peer, or the visitor's own token),
PERSON_CHANGE (admin, or the visitor's own token), ADMIN_ONLY, INTERNAL (peer or admin), OPERATOR_READ.
Write keys are the collector's (app/web/collector.py): a write key never reads or changes a person.
Workers forwarding a request send ``peer_headers()``: the peer token.
"""

from __future__ import annotations

from app.main import settings
from app.web.errors import json_error
from tastemaker.access import ADMIN_ONLY, INTERNAL, OPERATOR_READ, PERSON_CHANGE, PERSON_READ, Need, check

__all__ = ["ACCESS", "ADMIN_ONLY", "INTERNAL", "OPERATOR_READ", "PERSON_CHANGE", "PERSON_READ", "peer_headers",
           "require"]

ACCESS = settings.access


def require(web, request, need: Need, person_id: str | None = None, query_token: bool = False):
    """The 401/403 JSON answer when ``request`` may not do what needs ``need`` (for ``person_id``), else None.

    ``query_token``: also take ``?access_token=`` (only the decision stream: EventSource sends no headers).
    """
    denied = check(ACCESS, need, request.headers.get("Authorization"), person_id,
                   request.query.get("access_token") if query_token else None)
    if denied is None:
        return None
    headers = {"WWW-Authenticate": denied.challenge} if denied.challenge else None
    return json_error(web, denied.status, denied.field, denied.reason, headers)


def peer_headers() -> dict[str, str]:
    """What a worker sends with a request it forwards to another worker."""
    token = ACCESS.peer_token
    return {"Authorization": f"Bearer {token}"} if token else {}
