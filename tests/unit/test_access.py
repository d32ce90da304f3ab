"""tastemaker/access.py: visitor tokens, server tokens and their scopes, the decision per route, the settings."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from app.settings import Settings, SettingsError
from tastemaker.access import (ADMIN_ONLY, ANONYMOUS, CLOCK_SKEW, INTERNAL, OPERATOR_READ, PERSON_CHANGE,
                               PERSON_READ, AccessConfig, AccessError, Credentials, check, credentials_of,
                               issue_visitor_token, parse_secrets, verify_visitor_token, visitor_token_for)

NOW = 1_700_000_000.0
SECRET, OLD_SECRET = "visitor-secret-0001", "visitor-secret-0000"
ADMIN, ADMIN_OLD, READ, PEER = "admin-token-00001", "admin-token-00000", "read-token-000001", "peer-token-000001"
CONFIG = AccessConfig(admin_tokens=(ADMIN, ADMIN_OLD), read_tokens=(READ,), peer_tokens=(PEER,),
                      visitor_secrets=(SECRET, OLD_SECRET), visitor_ttl_max=3600)


def token(raw_id: str = "alice", expires: float = NOW + 600, secret: str = SECRET) -> str:
    return issue_visitor_token(raw_id, secret, int(expires))


def verify(text: str, now: float = NOW) -> str:
    return verify_visitor_token(text, CONFIG.visitor_secrets, now, CONFIG.visitor_ttl_max)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- visitor tokens ------------------------------------------------------------------------------------------

def test_a_token_is_the_documented_format_and_verifies_to_its_id():
    issued = token("alice", NOW + 600)
    prefix, b64id, expiry, mac = issued.split(".")
    assert (prefix, b64id, expiry) == ("tmv1", b64(b"alice"), str(int(NOW + 600)))
    # Any implementation of the format (the site's server) computes the same MAC.
    expected = hmac.new(SECRET.encode(), f"tmv1.{b64id}.{expiry}".encode(), hashlib.sha256).digest()
    assert mac == b64(expected) and "=" not in issued
    assert verify(issued) == "alice"


def test_any_utf8_id_round_trips():
    for raw_id in ("user@example.org", "ännä-Ω", "a.b.c", "x" * 300, "0"):
        assert verify(token(raw_id)) == raw_id


def test_an_expired_token_is_refused():
    with pytest.raises(AccessError, match="expired"):
        verify(token(expires=NOW - 1))
    with pytest.raises(AccessError, match="expired"):
        verify(token(expires=NOW))  # the expiry second itself is past


def test_a_token_living_longer_than_the_maximum_is_refused():
    assert verify(token(expires=NOW + 3600)) == "alice"
    assert verify(token(expires=NOW + 3600 + CLOCK_SKEW)) == "alice"  # another server's clock a little ahead
    with pytest.raises(AccessError, match="longer"):
        verify(token(expires=NOW + 3600 + CLOCK_SKEW + 1))
    with pytest.raises(AccessError, match="longer"):
        verify(token(expires=NOW + 10 * 365 * 86400))


def test_a_tampered_id_expiry_or_mac_is_refused():
    prefix, b64id, expiry, mac = token("alice").split(".")
    forged = [
        f"{prefix}.{b64(b'bob')}.{expiry}.{mac}",  # someone else's id
        f"{prefix}.{b64id}.{int(expiry) + 60}.{mac}",  # a later expiry
        f"{prefix}.{b64id}.{expiry}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # a changed MAC
        f"{prefix}.{b64id}.{expiry}.",  # no MAC
        f"{prefix}.{b64id}.{expiry}.{b64(hmac.new(b'guess', b'x', hashlib.sha256).digest())}",
        f"tmv2.{b64id}.{expiry}.{mac}",  # another version
        f"{prefix}.{b64id}.{expiry}",  # a part missing
        f"{prefix}.{b64id}.{expiry}.{mac}.extra",
        f"{prefix}.{b64id}.-{expiry}.{mac}",
        f"{prefix}.{b64id}.{expiry}.0.{mac}",
    ]
    for text in forged:
        with pytest.raises(AccessError):
            verify(text)


def test_a_token_with_a_non_canonical_id_is_refused_even_when_signed():
    signed = f"tmv1.{b64(b'alice')}=.{int(NOW + 60)}"  # padding: the spec says none
    mac = b64(hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).digest())
    with pytest.raises(AccessError, match="base64url"):
        verify(f"{signed}.{mac}")


def test_rotated_secrets_both_verify_and_the_first_signs():
    assert verify(token(secret=SECRET)) == "alice"
    assert verify(token(secret=OLD_SECRET)) == "alice"
    issued = visitor_token_for(CONFIG, "alice", 600, now=NOW)
    assert verify_visitor_token(issued, (SECRET,), NOW, 3600) == "alice"
    with pytest.raises(AccessError, match="signature"):
        verify_visitor_token(issued, (OLD_SECRET,), NOW, 3600)


def test_a_token_signed_with_a_secret_no_longer_configured_is_refused():
    with pytest.raises(AccessError, match="signature"):
        verify(token(secret="some-other-secret-xyz"))
    with pytest.raises(AccessError, match="off"):
        verify_visitor_token(token(), (), NOW, 3600)


def test_issuing_refuses_lifetimes_beyond_the_maximum_and_a_missing_secret():
    with pytest.raises(AccessError, match="lifetime"):
        visitor_token_for(CONFIG, "alice", 3601, now=NOW)
    with pytest.raises(AccessError, match="lifetime"):
        visitor_token_for(CONFIG, "alice", 0, now=NOW)
    with pytest.raises(AccessError, match="off"):
        visitor_token_for(AccessConfig(), "alice", 60, now=NOW)


# --- server tokens and scopes -------------------------------------------------------------------------------

def test_server_tokens_carry_their_scopes_and_admin_implies_read():
    assert credentials_of(CONFIG, ADMIN, NOW) == Credentials(scopes=frozenset({"admin", "read"}))
    assert credentials_of(CONFIG, READ, NOW) == Credentials(scopes=frozenset({"read"}))
    assert credentials_of(CONFIG, PEER, NOW) == Credentials(scopes=frozenset({"peer"}))
    assert credentials_of(CONFIG, token("bob"), NOW) == Credentials(visitor="bob")
    assert credentials_of(CONFIG, None, NOW) == ANONYMOUS
    for unknown in ("admin-token-0000", "admin-token-000011", READ.upper(), ""):
        with pytest.raises(AccessError):
            credentials_of(CONFIG, unknown or "x", NOW)


def test_two_admin_tokens_both_work_during_a_rotation():
    for admin in (ADMIN, ADMIN_OLD):
        assert check(CONFIG, ADMIN_ONLY, f"Bearer {admin}", now=NOW) is None


def allowed(authorization: str | None, need, path_id=None, access_token=None) -> int:
    denied = check(CONFIG, need, authorization, path_id, access_token, now=NOW)
    return 200 if denied is None else denied.status


def test_each_route_kind_admits_exactly_its_callers():
    alice = f"Bearer {token('alice')}"
    callers = {"anonymous": None, "admin": f"Bearer {ADMIN}", "read": f"Bearer {READ}", "peer": f"Bearer {PEER}",
               "alice": alice, "write key": "Basic " + base64.b64encode(b"dev-write-key:").decode()}
    expected = {
        # need:          anonymous admin read peer alice(own id) write key
        PERSON_READ: (401, 200, 200, 200, 200, 401),
        PERSON_CHANGE: (401, 200, 403, 403, 200, 401),
        ADMIN_ONLY: (401, 200, 403, 403, 403, 401),
        INTERNAL: (401, 200, 403, 200, 403, 401),
        OPERATOR_READ: (401, 200, 200, 403, 403, 401),
    }
    for need, statuses in expected.items():
        got = tuple(allowed(authorization, need, "alice") for authorization in callers.values())
        assert got == statuses, need.what


def test_a_visitor_token_reads_and_changes_only_its_own_id():
    alice = f"Bearer {token('alice')}"
    for need in (PERSON_READ, PERSON_CHANGE):
        assert allowed(alice, need, "alice") == 200
        assert allowed(alice, need, "bob") == 403
        assert allowed(alice, need, "Alice") == 403
        assert allowed(alice, need, None) == 403


def test_refusals_say_why_and_401s_carry_the_bearer_challenge():
    denied = check(CONFIG, ADMIN_ONLY, None, now=NOW)
    assert (denied.status, denied.field) == (401, "Authorization") and denied.challenge.startswith("Bearer")
    denied = check(CONFIG, ADMIN_ONLY, "Bearer nope-nope-nope-nope", now=NOW)
    assert denied.status == 401 and 'error="invalid_token"' in denied.challenge
    denied = check(CONFIG, PERSON_READ, f"Bearer {token(expires=NOW - 5)}", "alice", now=NOW)
    assert denied.status == 401 and "expired" in denied.reason
    denied = check(CONFIG, PERSON_READ, "Basic ZGV2LXdyaXRlLWtleTo=", "alice", now=NOW)
    assert denied.status == 401 and "write key" in denied.reason
    denied = check(CONFIG, ADMIN_ONLY, f"Bearer {READ}", now=NOW)
    assert denied.status == 403 and denied.challenge is None
    for text in (denied.reason, check(CONFIG, ADMIN_ONLY, f"Bearer {ADMIN}x", now=NOW).reason):
        assert ADMIN not in text and READ not in text  # no secret in an answer


def test_the_query_token_counts_only_where_the_route_passes_it_and_the_header_wins():
    own = token("alice")
    assert allowed(None, PERSON_READ, "alice", access_token=own) == 200
    assert allowed(None, PERSON_READ, "bob", access_token=own) == 403
    assert allowed(None, PERSON_READ, "alice", access_token=None) == 401
    assert allowed(f"Bearer {token('bob')}", PERSON_READ, "alice", access_token=own) == 403


def test_malformed_authorization_headers_are_refused():
    for header in ("Bearer", "Bearer ", "Bearer a b", "Token abc", "bearer"):
        assert allowed(header, PERSON_READ, "alice") == 401
    assert allowed("", PERSON_READ, "alice") == 401
    assert allowed(f"bearer {ADMIN}", ADMIN_ONLY) == 200  # the scheme is case-insensitive (RFC 7235)
    assert allowed(f"Bearer {'x' * 5000}", PERSON_READ, "alice") == 401
    assert allowed(f"Bearer tmv1.{'A' * 5000}.1.x", PERSON_READ, "alice") == 401


def test_with_nothing_configured_every_protected_route_refuses():
    empty = AccessConfig()
    for need in (PERSON_READ, PERSON_CHANGE, ADMIN_ONLY, INTERNAL, OPERATOR_READ):
        assert check(empty, need, f"Bearer {ADMIN}", "alice", now=NOW).status == 401
        assert check(empty, need, f"Bearer {token()}", "alice", now=NOW).status == 401


# --- settings -----------------------------------------------------------------------------------------------

def test_secret_lists_parse_and_refuse_empty_short_and_repeated_entries():
    assert parse_secrets("X", "") == () and parse_secrets("X", "  ") == ()
    assert parse_secrets("X", f" {ADMIN} , {ADMIN_OLD} ") == (ADMIN, ADMIN_OLD)
    for bad, why in ((f"{ADMIN},", "empty"), (f"{ADMIN},,{READ}", "empty"), ("short-token", "shorter"),
                     (f"{ADMIN},{ADMIN}", "twice"), ("with a space in it!", "spaces"),
                     ("tmv1.looks-like-a-visitor", "prefix")):
        with pytest.raises(AccessError, match=why):
            parse_secrets("X", bad)


def test_one_secret_in_two_roles_is_refused():
    with pytest.raises(AccessError, match="share"):
        AccessConfig(admin_tokens=(ADMIN,), read_tokens=(ADMIN,))
    with pytest.raises(AccessError, match="share"):
        AccessConfig(peer_tokens=(READ,), read_tokens=(READ,))
    with pytest.raises(AccessError, match="share"):
        AccessConfig(admin_tokens=(SECRET,), visitor_secrets=(SECRET,))


def test_settings_read_the_access_variables():
    settings = Settings.from_env({"TASTEMAKER_ADMIN_TOKENS": f"{ADMIN},{ADMIN_OLD}", "TASTEMAKER_READ_TOKENS": READ,
                                  "TASTEMAKER_PEER_TOKEN": PEER, "TASTEMAKER_VISITOR_SECRETS": SECRET,
                                  "TASTEMAKER_VISITOR_TOKEN_TTL_MAX": "600", "TASTEMAKER_MAX_STREAMS": "50"})
    assert settings.access == AccessConfig((ADMIN, ADMIN_OLD), (READ,), (PEER,), (SECRET,), 600)
    assert settings.access.peer_token == PEER and settings.max_streams == 50
    assert ADMIN not in repr(settings) and SECRET not in repr(settings) and PEER not in repr(settings)
    defaults = Settings.from_env({})
    assert defaults.access == AccessConfig() and defaults.visitor_token_ttl_max == 86400
    assert defaults.max_streams == 10_000 and defaults.access.peer_token is None


def test_settings_refuse_bad_access_values_naming_the_variable():
    for env, named in (({"TASTEMAKER_ADMIN_TOKENS": "short"}, "TASTEMAKER_ADMIN_TOKENS"),
                       ({"TASTEMAKER_READ_TOKENS": f"{READ},"}, "TASTEMAKER_READ_TOKENS"),
                       ({"TASTEMAKER_ADMIN_TOKENS": ADMIN, "TASTEMAKER_PEER_TOKEN": ADMIN}, "share"),
                       ({"TASTEMAKER_ADMIN_TOKEN": ADMIN}, "TASTEMAKER_ADMIN_TOKENS"),  # the old name
                       ({"TASTEMAKER_VISITOR_TOKEN_TTL_MAX": "0"}, "TASTEMAKER_VISITOR_TOKEN_TTL_MAX"),
                       ({"TASTEMAKER_MAX_STREAMS": "0"}, "TASTEMAKER_MAX_STREAMS")):
        with pytest.raises(SettingsError, match=named):
            Settings.from_env(env)


def test_a_token_for_the_collectors_longest_id_verifies():
    # Found by `make fuzz`: 512 four-byte characters (an id the collector accepts) made a token over the old
    # 2,048-character bound, so that visitor could not read their own data.
    longest = "\U0001f600" * 512
    assert verify(token(longest)) == longest
    with pytest.raises(AccessError):
        verify(token("x" * 3000))
