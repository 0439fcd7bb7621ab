"""Treasure: business portfolio history, OAuth client-credentials tokens and Treasure's error envelope.

Access tokens are HS256 JWTs signed with a key derived from the client's secret and the
sandbox seed, so they need no server state: they survive restarts and work across
worker processes until they expire (on the real clock). Each client also has a
pre-issued token under the security scheme's name. A client sees the well-known
businesses plus the `businesses` of its credentials entry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ...envelopes import Problem, Reply, json_reply
from ...lru import trimmed
from ...pipeline import summarize
from ...sandbox.shares import apportion
from ...sandbox.world import World, weigh_key_and_body
from ...security import ANONYMOUS, AuthOutcome, AuthRequest, Identity, SchemeReader, identity_with
from ...validation import Violation
from .. import Call, Vendor
from .model import DOCUMENT_BUSINESS, PRODUCTS, UNFUNDED_BUSINESS, WELL_KNOWN, business_profile, snapshots

TOKEN = "createAccessToken"
HISTORY = "getPortfolioHistory"
SCHEME = "bearerAuth"  # the spec's security scheme; an identity's pre-issued token sits under this name
BEARER = SchemeReader(SCHEME, "bearer", "header", "Authorization")
CHALLENGE = 'Bearer realm="mockserver"'  # the engine's challenge, also for 401s it does not add one to
TOKEN_LIFETIME = 86_400
ISSUER = "treasure-sandbox"
_JWT_HEADER = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # base64url of {"alg":"HS256","typ":"JWT"}
_JSON_RANGES = frozenset({"*/*", "application/*", "application/json"})
_TIME_CLAIMS = ("exp", "iat", "nbf")
_LATEST = int(datetime.max.replace(tzinfo=UTC).timestamp())  # 9999-12-31T23:59:59Z, the last second a date is written for

CODE_BY_STATUS = {
    400: "INVALID_PARAMS",
    401: "NOT_AUTHENTICATED",
    403: "NOT_AUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMIT_EXCEEDED",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_TEMPORARILY_UNAVAILABLE",
}
TARGET_TYPES = {"query": "query_param", "path": "path_param", "header": "header", "cookie": "cookie", "body": "body"}
# Violation.reason -> reason_code; "invalid" depends on where (see _reason_code)
REASON_CODES = {
    "missing": "REQUIRED",
    "empty": "EMPTY",
    "type": "INVALID_TYPE",
    "malformed": "MALFORMED",
    "unsupported": "UNSUPPORTED",
    "range": "INVALID_RANGE",
    "token": "INVALID_TOKEN",
    "expired": "EXPIRED",
    "credentials": "INVALID_CREDENTIALS",
    "forbidden": "NOT_AUTHORIZED",
    "not_found": "NOT_FOUND",
    "no_history": "NO_PORTFOLIO_HISTORY",
}
FORBIDDEN = "These credentials do not have permission to call this operation"
SECRET_FIELD, SECRET_RULE = "/client_secret", "client_secret must be a non-empty string"


def error_code(problem: Problem) -> str:
    if problem.status == 400 and any(v.location == "path" for v in problem.violations):
        return "INVALID_PATH"
    return CODE_BY_STATUS.get(problem.status, "SERVICE_TEMPORARILY_UNAVAILABLE" if problem.status >= 500 else "INVALID_PARAMS")


def _reason_code(violation: Violation, status: int, code: str) -> str:
    if violation.reason in REASON_CODES:
        return REASON_CODES[violation.reason]
    if status != 400:
        return code  # a problem with the whole request (unknown path, method, media type, size)
    return "INVALID_VALUE" if violation.location == "body" else "INVALID_FORMAT"  # parameters arrive as text


def treasure_envelope(problem: Problem) -> Reply:
    """`{"error_code", "error_message", "details": [{"target_type", "target", "message", "reason_code"}]}`."""
    code = error_code(problem)
    message, violations = _without_secrets(problem)
    details = [
        {
            "target_type": TARGET_TYPES.get(v.location, "request"),
            "target": v.name,
            "message": v.message,
            "reason_code": _reason_code(v, problem.status, code),
        }
        for v in violations
    ]
    payload = {"error_code": code, "error_message": message, "details": details}
    return json_reply(problem.status, payload, headers=_error_headers(problem))


def _is_secret(violation: Violation) -> bool:
    return violation.location == "body" and violation.name == SECRET_FIELD


def _without_secrets(problem: Problem) -> tuple[str, list[Violation]]:
    """Schema messages quote the value they reject; for client_secret, say what is wrong without it."""
    if problem.status != 400 or not any(_is_secret(v) for v in problem.violations):
        return problem.message, problem.violations
    violations = [replace(v, message=SECRET_RULE, value=None) if _is_secret(v) else v for v in problem.violations]
    return summarize(violations), violations


def _error_headers(problem: Problem) -> dict[str, str]:
    """Every 401 carries a Bearer challenge, with RFC 6750's invalid_token when a token was sent."""
    headers = dict(problem.headers)
    if problem.status == 401:
        challenge = headers.get("WWW-Authenticate", CHALLENGE)
        if any(v.reason in ("token", "expired") for v in problem.violations):
            challenge += ', error="invalid_token"'
        headers["WWW-Authenticate"] = challenge
    return headers


def _fail(status: int, message: str, location: str, name: str, reason: str) -> Problem:
    return Problem(status, message, [Violation(location, name, message, reason)])


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
    identity, known_id = _client(request.identities, _raw(client_id), _raw(secret))
    if identity is not None:
        return AuthOutcome(identity)
    if known_id:
        return _refused(_fail(401, "client_secret is not valid for this client_id", "body", "/client_secret", "credentials"))
    return _refused(_fail(401, "client_id is not a known client", "body", "/client_id", "credentials"))


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


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
        return _refused(_fail(401, f"Missing {BEARER.label}", "header", "Authorization", "missing"))
    identity, claims = _token_owner(_raw(token), request.identities, request.settings.seed)
    if identity is None:
        return _refused(_fail(401, f"{BEARER.label} is not valid", "header", "Authorization", "token"))
    problem = _lifetime_problem(claims, time.time()) if claims is not None else None
    if problem is not None:
        return _refused(problem)
    if identity.forbidden:
        return AuthOutcome(identity, 403, FORBIDDEN, [Violation("header", "Authorization", FORBIDDEN, "forbidden")])
    return AuthOutcome(identity)


def _lifetime_problem(claims: dict[str, Any], now: float) -> Problem | None:
    """Why a signed token is not valid at `now` (expired, or not valid yet), or None if it is."""
    if claims["exp"] <= now:
        message = f"the access token expired at {_utc(claims['exp'])}; request a new one from POST /v1/oauth/token"
        return _fail(401, message, "header", "Authorization", "expired")
    if claims.get("nbf", 0) > now:
        return _fail(401, f"the access token is not valid before {_utc(claims['nbf'])}", "header", "Authorization", "token")
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
    subject = _raw(claims["sub"])
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


# --- handlers ---------------------------------------------------------------------------------


def token_handler(call: Call) -> Reply:
    assert call.identity is not None  # authenticate found the client named in the (valid) body
    payload = {
        "access_token": issue_token(call.identity, call.world.seed, int(time.time())),
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
    }
    return json_reply(200, payload, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def accepts_json(accept: str | None) -> bool:
    """Whether an Accept header admits application/json (no header, or an empty one, admits anything)."""
    if not accept or not accept.strip():
        return True
    for media_range in accept.split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type in _JSON_RANGES and _quality(params) > 0:
            return True
    return False


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0  # a malformed weight is ignored, as if absent
    return 1.0


def visible_businesses(identity: Identity | None) -> frozenset[str]:
    """The well-known businesses and the client's own (lowercase ids)."""
    own = identity.data.get("businesses") if identity is not None else None
    configured = (str(item).lower() for item in own) if isinstance(own, list) else ()
    return frozenset([*WELL_KNOWN, *configured])


def history_handler(call: Call) -> Reply:
    dates = _date_range(call.params["query"])
    if isinstance(dates, Problem):
        return treasure_envelope(dates)
    start, end = dates
    if not accepts_json(call.params["header"].get("Accept")):
        message = "header 'Accept' admits no JSON; this API answers application/json"
        return treasure_envelope(_fail(406, message, "header", "Accept", "unsupported"))
    business = call.params["path"]["business_id"].lower()
    if business not in visible_businesses(call.identity):
        return treasure_envelope(_fail(404, f"business {business} not found", "path", "business_id", "not_found"))
    if business_profile(business, call.world.seed) is None:
        message = f"business {business} has no portfolio history"
        return treasure_envelope(_fail(404, message, "path", "business_id", "no_history"))
    return Reply(200, _history_body(call.world, business, start, end))


def _date_range(query: dict[str, Any]) -> tuple[date, date] | Problem:
    """start_date and end_date, in order. Their format is checked already, but year 0000 passes it and is no date."""
    days = []
    for name in ("start_date", "end_date"):
        try:
            days.append(date.fromisoformat(query[name]))
        except ValueError:
            return _fail(400, f"query parameter {name!r}: {query[name]!r} is before 0001-01-01", "query", name, "range")
    start, end = days
    if start > end:
        return _fail(400, f"start_date {start} is after end_date {end}", "query", "start_date", "range")
    return start, end


def _history_body(world: World, business: str, start: date, end: date) -> bytes:
    """Serialized once per (business, range, day) of this world: the answer cannot change within that key.
    At most 1,024 of them and 8 MiB with their keys."""
    cache = world.caches.lru("treasure.history", 1024, 8 << 20, weigh_key_and_body)
    key = (business, start, end, world.now().date())
    body = cache.get(key)
    if body is None:
        profile = business_profile(business, world.seed)
        assert profile is not None  # checked by the handler
        days = snapshots(profile, world.seed, start, end, key[-1])
        history = [_snapshot(profile.portfolio_id, day, values) for day, values in days]
        body = trimmed(
            orjson.dumps({"business_id": business, "start_date": start.isoformat(), "end_date": end.isoformat(), "history": history})
        )
        cache.put(key, body)
    return body


def _snapshot(portfolio_id: str, day: date, values: tuple[int, ...]) -> dict[str, Any]:
    """One snapshot: the products held, their values (cents -> currency) and percentages (two decimals, summing to 100)."""
    held = [(product, cents) for product, cents in zip(PRODUCTS, values, strict=True) if cents]
    shares = apportion(10_000, [cents for _, cents in held])
    products = [
        {"product": product, "percentage": share / 100, "value": cents / 100} for (product, cents), share in zip(held, shares, strict=True)
    ]
    return {"date": day.isoformat(), "portfolio": {"id": portfolio_id, "products": products, "total_value": sum(values) / 100}}


VENDOR = Vendor(
    envelope=treasure_envelope,
    validation_status=400,
    handlers={TOKEN: token_handler, HISTORY: history_handler},
    authenticate=authenticate,
    well_known={
        f"business_id={DOCUMENT_BUSINESS}": "the reference's example business (funded 2022-01-01)",
        f"business_id={UNFUNDED_BUSINESS}": "a business without a portfolio (404)",
    },
)
