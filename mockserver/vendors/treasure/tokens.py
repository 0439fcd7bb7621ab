"""Treasure's OAuth client credentials: the token endpoint, and checking the credentials of every request.

Access tokens are HS256 JWTs signed with a key derived from the client's secret and the
sandbox seed, so they need no server state: they survive restarts and work across
worker processes until they expire (on the real clock). Each client also has a
pre-issued token under the security scheme's name. The token endpoint takes the client
credentials of its JSON body; every other operation takes a bearer token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from ...security import ANONYMOUS, AuthOutcome, AuthRequest, SchemeReader, identity_with
from ...vocabulary import Call, Identity, Problem, Reply, Violation, as_sent, json_reply
from .errors import fail

TOKEN = "createAccessToken"
SCHEME = "bearerAuth"  # the spec's security scheme; an identity's pre-issued token sits under this name
BEARER = SchemeReader(SCHEME, "bearer", "header", "Authorization")
TOKEN_LIFETIME = 86_400
ISSUER = "treasure-sandbox"
_JWT_HEADER = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # base64url of {"alg":"HS256","typ":"JWT"}
_TIME_CLAIMS = ("exp", "iat", "nbf")
_LATEST = int(datetime.max.replace(tzinfo=UTC).timestamp())  # 9999-12-31T23:59:59Z, the last second a date is written for
FORBIDDEN = "These credentials do not have permission to call this operation"


# --- authentication ---------------------------------------------------------------------------


def authenticate(request: AuthRequest) -> AuthOutcome:
    """Client credentials for the token endpoint, a bearer token for everything else."""
    if request.operation == TOKEN:
        return _client_credentials(request)
    if request.anonymous:
        return ANONYMOUS
    return _bearer(request)


def _refused(problem: Problem) -> AuthOutcome:
    """An authentication failure, for the pipeline to answer in the envelope."""
    return AuthOutcome(None, problem.status, problem.message, problem.violations)


def _client_credentials(request: AuthRequest) -> AuthOutcome:
    """The client named in the JSON body; a body without both strings is left to validation (400)."""
    media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return ANONYMOUS  # the body checker answers 415
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return ANONYMOUS
    client_id, secret = (body.get("client_id"), body.get("client_secret")) if isinstance(body, dict) else (None, None)
    if not (isinstance(client_id, str) and isinstance(secret, str) and client_id and secret):
        return ANONYMOUS
    identity, known_id = _client(request.identities, as_sent(client_id), as_sent(secret))
    if identity is not None:
        return AuthOutcome(identity)
    if known_id:
        return _refused(fail(401, "client_secret is not valid for this client_id", "body", "/client_secret", "credentials"))
    return _refused(fail(401, "client_id is not a known client", "body", "/client_id", "credentials"))


def _client(identities: Sequence[Identity], client_id: bytes, secret: bytes) -> tuple[Identity | None, bool]:
    """The identity with these client credentials, and whether the client id alone is known.
    Every identity is compared in full, so timing does not tell which part was wrong."""
    found, known_id = None, False
    for identity in identities:
        id_matches = hmac.compare_digest(identity.values.get("client_id", b""), client_id)
        secret_matches = hmac.compare_digest(identity.values.get("client_secret", b""), secret)
        known_id = known_id or id_matches
        if id_matches and secret_matches and found is None:
            found = identity
    return found, known_id


def _bearer(request: AuthRequest) -> AuthOutcome:
    token = BEARER.read(request.headers, request.query, {})
    if token is None:
        return _refused(fail(401, f"Missing {BEARER.label}", "header", "Authorization", "missing"))
    identity, claims = _token_owner(as_sent(token), request.identities, request.settings.seed)
    if identity is None:
        return _refused(fail(401, f"{BEARER.label} is not valid", "header", "Authorization", "token"))
    problem = _lifetime_problem(claims, request.world.now().timestamp()) if claims is not None else None  # the sandbox clock
    if problem is not None:
        return _refused(problem)
    if identity.forbidden:
        return AuthOutcome(identity, 403, FORBIDDEN, [Violation("header", "Authorization", FORBIDDEN, "forbidden")])
    return AuthOutcome(identity)


def _lifetime_problem(claims: dict[str, Any], now: float) -> Problem | None:
    """Why a signed token is not valid at `now` (expired, or not valid yet), or None if it is."""
    if claims["exp"] <= now:
        message = f"the access token expired at {_utc(claims['exp'])}; request a new one from POST /v1/oauth/token"
        return fail(401, message, "header", "Authorization", "expired")
    if claims.get("nbf", 0) > now:
        return fail(401, f"the access token is not valid before {_utc(claims['nbf'])}", "header", "Authorization", "token")
    return None


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _token_owner(token: bytes, identities: Sequence[Identity], seed: int) -> tuple[Identity | None, dict[str, Any] | None]:
    """Whose token this is (a pre-issued one, or one we signed) and its claims (None: pre-issued, never expires).
    Every pre-issued token is compared, and every client's signature over a signed token, so
    timing tells neither which client's token was close nor which client a token names."""
    pre_issued = identity_with(identities, SCHEME, token)
    if pre_issued is not None:
        return pre_issued, None
    claims = _claims(token)
    if claims is None:
        return None, None
    signing_input, _, signature = token.rpartition(b".")
    subject = as_sent(claims["sub"])
    found = None
    for identity in identities:
        owns = hmac.compare_digest(identity.values.get("client_id", b""), subject)
        signed = "client_secret" in identity.values and hmac.compare_digest(_sign(identity, seed, signing_input), signature)
        if owns and signed and found is None:
            found = identity
    return (found, claims) if found is not None else (None, None)


def _claims(token: bytes) -> dict[str, Any] | None:
    """The claims of a token shaped like ours (our header, `sub` and `exp`), not yet verified. Its times
    (`exp`, and `iat` and `nbf` if given) are integer seconds from 1970 to 9999: a time that is not
    could not be compared with the clock or written as a date in an error message."""
    parts = token.split(b".")
    if len(parts) != 3 or parts[0] != _JWT_HEADER:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + b"=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str) or "exp" not in claims:
        return None
    if not all(_is_time(claims[name]) for name in _TIME_CLAIMS if name in claims):
        return None
    return claims


def _is_time(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _LATEST


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _sign(identity: Identity, seed: int, signing_input: bytes) -> bytes:
    key = hmac.new(identity.values["client_secret"], f"treasure-access-token|{seed}".encode(), hashlib.sha256).digest()
    return _b64(hmac.new(key, signing_input, hashlib.sha256).digest())


def issue_token(identity: Identity, seed: int, issued_at: int) -> str:
    """An access token for a client identity (one with client_id and client_secret)."""
    claims = {"iss": ISSUER, "sub": identity.values["client_id"].decode(), "iat": issued_at, "exp": issued_at + TOKEN_LIFETIME}
    signing_input = _JWT_HEADER + b"." + _b64(orjson.dumps(claims))
    return (signing_input + b"." + _sign(identity, seed, signing_input)).decode()


# --- the token endpoint -----------------------------------------------------------------------


def token_handler(call: Call) -> Reply:
    assert call.identity is not None  # authenticate found the client named in the (valid) body
    payload = {
        "access_token": issue_token(call.identity, call.world.seed, int(call.world.now().timestamp())),
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
    }
    return json_reply(200, payload, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
