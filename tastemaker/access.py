"""Who may call what: a request's credential, and whether it may do what a route does (pure: no Faust, no HTTP).

Where it sits in the flow::

    HTTP request ──▶ app/web/auth.py (the Authorization header; ?access_token= on the decision stream)
                 ──▶ check(config, need, authorization, path_id, access_token, now)
                       credentials_of: which scopes the credential carries, or the one id a visitor token is for
                       decide: does it meet the route's Need?
                 ──▶ None: the view goes on │ Denied(401/403, field, reason): the view answers that, nothing else

Three kinds of caller (docs/security.md holds the threat model):

- *Write keys* (public, in every page): only the collector ``POST /v1/*``, checked there; here a write key
  (HTTP Basic) is no credential at all: it never reads or changes a person.
- *Visitor tokens*, issued by the site's server for one id (userId, or the anonymousId it keeps in a first-party
  cookie) and short-lived::

      tmv1.<id, base64url without padding>.<expiry, unix seconds>.<HMAC-SHA256, base64url without padding>

  The MAC is over the ASCII bytes ``tmv1.<b64id>.<expiry>`` with a secret of ``TASTEMAKER_VISITOR_SECRETS``
  (the first signs, any verifies: rotation). Refused once expired, and when the expiry lies further ahead
  than ``TASTEMAKER_VISITOR_TOKEN_TTL_MAX`` (a leaked token must not live for long). It allows a route only
  when the route's id is its id.
- *Server tokens*: ``TASTEMAKER_READ_TOKENS`` (scope read), ``TASTEMAKER_ADMIN_TOKENS`` (scope admin, which
  implies read) and ``TASTEMAKER_PEER_TOKEN`` (scope peer: what workers send each other when they forward).
  Several of each at once, so they can be rotated; compared in constant time.

No credential: 401 (``WWW-Authenticate: Bearer``); an unusable one (unknown, expired, tampered): 401 with
``error="invalid_token"``; a good one without the right: 403.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from functools import cached_property

READ, ADMIN, PEER = "read", "admin", "peer"
VISITOR_PREFIX = "tmv1"
# A guessable secret is no secret: 16 characters is the floor (use 32 random bytes, e.g. `openssl rand -hex 32`).
MIN_SECRET_LENGTH = 16
# Visitor tokens are minted by another server whose clock may run a little ahead of ours.
CLOCK_SKEW = 60
# The collector's longest id (512 characters, up to 2,048 bytes of UTF-8) makes a token of ~2,800 characters
# (base64 of the id, expiry, MAC); a longer one is no token. Bounds the work a forged token costs us.
MAX_TOKEN_LENGTH = 3072
_SECRET_TEXT = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII without spaces: fits a header, no quoting
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")


class AccessError(ValueError):
    """A token, or an access setting, that cannot be accepted; the message says why and never holds a secret."""


class NotBearer(AccessError):
    """An Authorization header of another scheme (a write key's HTTP Basic): no credential for these routes."""


@dataclass(frozen=True)
class Denied:
    """The answer to a request that may not pass: 401 (no usable credential) or 403 (not this one's right)."""

    status: int
    field: str | None
    reason: str
    #: The ``WWW-Authenticate`` value of a 401 (RFC 6750), None on a 403.
    challenge: str | None = None


@dataclass(frozen=True)
class Credentials:
    """What a request's credential proves: server scopes, or the one id a visitor token speaks for."""

    scopes: frozenset[str] = frozenset()
    visitor: str | None = None

    @property
    def anonymous(self) -> bool:
        return not self.scopes and self.visitor is None


ANONYMOUS = Credentials()


@dataclass(frozen=True)
class Need:
    """What a route asks of its caller: any of ``scopes``, or (when ``own_id``) a visitor token for the path's id."""

    what: str  # said in a 403
    scopes: frozenset[str]
    own_id: bool = False


#: Operators' reads that hold no person (stats): read scope (admin implies it).
OPERATOR_READ = Need("a read or admin token", frozenset({READ}))
#: Reading a person (profile view, recommendations, decision stream): read scope, a worker forwarding the
#: read (peer), or the visitor's own token.
PERSON_READ = Need("a read token or the visitor's own token", frozenset({READ, PEER}), own_id=True)
#: Changing a person (consent, reset, "not interested", preferences): admin, or the visitor's own token.
PERSON_CHANGE = Need("an admin token or the visitor's own token", frozenset({ADMIN}), own_id=True)
#: The admin API (rules, item writes, forget).
ADMIN_ONLY = Need("an admin token", frozenset({ADMIN}))
#: Worker-internal routes (raw state, id links, a person's list computed by its owner): peer or admin.
INTERNAL = Need("the peer token or an admin token", frozenset({PEER, ADMIN}))


def parse_secrets(name: str, spec: str) -> tuple[str, ...]:
    """``a,b,c`` -> ("a", "b", "c"): comma-separated secrets, none empty, none short, none twice; "" -> ()."""
    if not spec.strip():
        return ()
    secrets = tuple(part.strip() for part in spec.split(","))
    for n, secret in enumerate(secrets, 1):
        if not secret:
            raise AccessError(f"{name}: entry {n} is empty (a stray comma?)")
        if len(secret) < MIN_SECRET_LENGTH:
            raise AccessError(f"{name}: entry {n} is shorter than {MIN_SECRET_LENGTH} characters")
        if not _SECRET_TEXT.match(secret):
            raise AccessError(f"{name}: entry {n} holds spaces or characters outside printable ASCII")
        if secret.startswith(f"{VISITOR_PREFIX}."):
            raise AccessError(f"{name}: entry {n} starts with '{VISITOR_PREFIX}.', the visitor tokens' prefix")
    if len(set(secrets)) != len(secrets):
        raise AccessError(f"{name}: the same entry is listed twice")
    return secrets


@dataclass(frozen=True)
class AccessConfig:
    """The configured secrets. Empty tuples switch a kind of caller off (every such request is refused)."""

    admin_tokens: tuple[str, ...] = field(default=(), repr=False)
    read_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: The first is what this worker sends when it forwards; any is accepted (a rolling rotation).
    peer_tokens: tuple[str, ...] = field(default=(), repr=False)
    #: The first signs visitor tokens; any verifies (rotation).
    visitor_secrets: tuple[str, ...] = field(default=(), repr=False)
    #: Visitor tokens expiring further ahead than this are refused, seconds (a day: a session, not a login).
    visitor_ttl_max: int = 86400

    def __post_init__(self) -> None:
        roles = {"TASTEMAKER_ADMIN_TOKENS": self.admin_tokens, "TASTEMAKER_READ_TOKENS": self.read_tokens,
                 "TASTEMAKER_PEER_TOKEN": self.peer_tokens, "TASTEMAKER_VISITOR_SECRETS": self.visitor_secrets}
        seen: dict[str, str] = {}
        for name, values in roles.items():
            for value in values:
                if value in seen and seen[value] != name:
                    raise AccessError(f"{name} and {seen[value]} share a value: one secret, one role")
                seen[value] = name
        if self.visitor_ttl_max < 1:
            raise AccessError("TASTEMAKER_VISITOR_TOKEN_TTL_MAX must be at least 1 second")

    @classmethod
    def from_specs(cls, admin: str = "", read: str = "", peer: str = "", visitor: str = "",
                   visitor_ttl_max: int = 86400) -> "AccessConfig":
        """From the settings' comma-separated strings (raises AccessError naming the variable)."""
        return cls(parse_secrets("TASTEMAKER_ADMIN_TOKENS", admin), parse_secrets("TASTEMAKER_READ_TOKENS", read),
                   parse_secrets("TASTEMAKER_PEER_TOKEN", peer), parse_secrets("TASTEMAKER_VISITOR_SECRETS", visitor),
                   int(visitor_ttl_max))

    @property
    def peer_token(self) -> str | None:
        """What a worker sends when it forwards a request to another (None: none configured)."""
        return self.peer_tokens[0] if self.peer_tokens else None

    @cached_property
    def _server_digests(self) -> tuple[tuple[bytes, frozenset[str]], ...]:
        # Digests, so every comparison is of 32 bytes: compare_digest then reveals not even a token's length.
        scoped = [(t, frozenset({ADMIN, READ})) for t in self.admin_tokens]
        scoped += [(t, frozenset({READ})) for t in self.read_tokens]
        scoped += [(t, frozenset({PEER})) for t in self.peer_tokens]
        return tuple((_digest(token), scopes) for token, scopes in scoped)

    def server_scopes(self, token: str) -> frozenset[str] | None:
        """The scopes of a server token, None when it is none of them. Compares with every configured token."""
        given = _digest(token)
        found = None
        for digest, scopes in self._server_digests:
            if hmac.compare_digest(given, digest):  # no early exit: the time does not say which one matched
                found = scopes
        return found


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64URL.match(text):
        raise AccessError("the token's id is not base64url")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise AccessError("the token's id is not base64url") from None
    if _b64(raw) != text:
        raise AccessError("the token's id is not base64url in its canonical form")
    return raw


def _mac(secret: str, signed: str) -> str:
    return _b64(hmac.new(secret.encode(), signed.encode("ascii"), hashlib.sha256).digest())


def issue_visitor_token(raw_id: str, secret: str, expires: int) -> str:
    """A visitor token for ``raw_id`` valid until ``expires`` (unix seconds), signed with ``secret``."""
    if not raw_id:
        raise AccessError("a visitor token needs an id")
    signed = f"{VISITOR_PREFIX}.{_b64(raw_id.encode())}.{int(expires)}"
    return f"{signed}.{_mac(secret, signed)}"


def visitor_token_for(config: AccessConfig, raw_id: str, ttl: int, now: float | None = None) -> str:
    """A token for ``raw_id`` lasting ``ttl`` seconds, signed with the first configured secret."""
    if not config.visitor_secrets:
        raise AccessError("no TASTEMAKER_VISITOR_SECRETS configured: visitor tokens are off")
    if not 1 <= ttl <= config.visitor_ttl_max:
        raise AccessError(f"the lifetime must be from 1 to {config.visitor_ttl_max} seconds "
                          f"(TASTEMAKER_VISITOR_TOKEN_TTL_MAX)")
    now = time.time() if now is None else now
    return issue_visitor_token(raw_id, config.visitor_secrets[0], int(now) + int(ttl))


def verify_visitor_token(token: str, secrets: tuple[str, ...], now: float, ttl_max: int) -> str:
    """The id a visitor token was issued for; AccessError when it is malformed, forged, expired or too long-lived."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise AccessError("the token is too long")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != VISITOR_PREFIX:
        raise AccessError(f"a visitor token is {VISITOR_PREFIX}.<id>.<expiry>.<signature>")
    _, b64id, expiry_text, mac = parts
    if not _DIGITS.match(expiry_text):
        raise AccessError("the token's expiry is not unix seconds")
    if not secrets:
        raise AccessError("visitor tokens are off (no TASTEMAKER_VISITOR_SECRETS)")
    signed = f"{VISITOR_PREFIX}.{b64id}.{expiry_text}"
    valid = False
    for secret in secrets:  # every secret is tried: the time does not say which one signed
        valid |= hmac.compare_digest(mac.encode(), _mac(secret, signed).encode())
    if not valid:
        raise AccessError("the token's signature does not match")
    try:
        raw_id = _unb64(b64id).decode("utf-8")
    except UnicodeDecodeError:
        raise AccessError("the token's id is not UTF-8") from None
    if not raw_id:
        raise AccessError("the token names no id")
    expires = int(expiry_text)
    if expires <= now:
        raise AccessError("the token has expired")
    if expires > now + ttl_max + CLOCK_SKEW:
        raise AccessError(f"the token lives longer than the {ttl_max} s TASTEMAKER_VISITOR_TOKEN_TTL_MAX allows")
    return raw_id


def bearer_of(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without the header; NotBearer for another scheme."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise NotBearer(f"{scheme[:10]} credentials are not accepted here (a write key only sends events): "
                        "send 'Authorization: Bearer <token>'")
    token = token.strip()
    if not token or " " in token:
        raise AccessError("'Authorization: Bearer' holds no single token")
    return token


def credentials_of(config: AccessConfig, token: str | None, now: float) -> Credentials:
    """What ``token`` proves: a server token's scopes, or the id of a visitor token; AccessError when neither."""
    if token is None:
        return ANONYMOUS
    if token.startswith(f"{VISITOR_PREFIX}."):
        return Credentials(visitor=verify_visitor_token(token, config.visitor_secrets, now, config.visitor_ttl_max))
    scopes = config.server_scopes(token)
    if scopes is None:
        raise AccessError("the token is not valid")
    return Credentials(scopes=scopes)


def decide(credentials: Credentials, need: Need, path_id: str | None = None) -> Denied | None:
    """None when ``credentials`` meet ``need`` for the route's id ``path_id``; else the refusal."""
    if credentials.scopes & need.scopes:
        return None
    if need.own_id and credentials.visitor is not None and path_id is not None and credentials.visitor == path_id:
        return None
    if credentials.anonymous:
        return Denied(401, "Authorization", f"this route takes {need.what}: 'Authorization: Bearer <token>'",
                      'Bearer realm="tastemaker"')
    if credentials.visitor is not None:
        why = "a visitor token reads and changes only its own id" if need.own_id else "not with a visitor token"
        return Denied(403, "Authorization", f"this route takes {need.what}; {why}")
    return Denied(403, "Authorization", f"this route takes {need.what}; this token's scope does not include it")


def check(config: AccessConfig, need: Need, authorization: str | None, path_id: str | None = None,
          access_token: str | None = None, now: float | None = None) -> Denied | None:
    """The whole decision for one request: None when it may pass, else the Denied answer.

    ``access_token`` is the ``?access_token=`` query value, passed only by routes that accept it (the
    decision stream: EventSource cannot set headers); the header wins when both are sent.
    """
    now = time.time() if now is None else now
    try:
        token = bearer_of(authorization)
        if token is None and access_token:
            token = access_token
        credentials = credentials_of(config, token, now)
    except NotBearer as error:
        return Denied(401, "Authorization", str(error), 'Bearer realm="tastemaker"')
    except AccessError as error:
        return Denied(401, "Authorization", str(error), 'Bearer realm="tastemaker", error="invalid_token"')
    return decide(credentials, need, path_id)
