"""Omniex Edge: HMAC-SHA384 request signatures, its error list, and each key's portfolios.

Every API key owns its fixed portfolios (the `portfolios` of its credentials entry: the
reference's "Master Fund 1" for the sandbox key) followed by a few generated ones whose
ids, venues and balances derive from a stable hash of (seed, key). Balances are sized
from the shared market prices and written as decimal strings. A key a scenario shaped
(omniex_scenario.py) has the portfolios it gave instead, read from the session's state.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from ..lru import SizedLru, trimmed
from ..sandbox.accounts import identity_rng
from ..sandbox.world import World
from ..security import AuthOutcome, AuthRequest, identity_with
from ..vocabulary import Call, Identity, Problem, Reply, Violation, as_sent, json_reply
from . import Signing, Vendor, omniex_scenario
from .omniex_scenario import CUSTODIAN, VENUE_NAMES, account_name, decimal_text, timestamp_text, uuid_from

KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "ONX-API-KEY", "ONX-API-TIMESTAMP", "ONX-API-SIGNATURE"
CODE_BY_STATUS = {
    400: "PARAMETER_VALUE_INVALID",
    401: "AUTHENTICATION_FAILED",
    403: "ACCESS_DENIED",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_UNSUPPORTED",
    408: "PARAMETER_INVALID",  # the body did not arrive in time
    413: "PARAMETER_INVALID",  # the request as a whole is refused: its body, target or headers are too large
    414: "PARAMETER_INVALID",
    431: "PARAMETER_INVALID",
}
CODE_BY_REASON = {"unsupported": "PARAMETER_UNSUPPORTED", "timestamp": "TIMESTAMP_INVALID", "forbidden": "ACCESS_DENIED"}
AUTHENTICATION_FAILED = "the api server failed to authenticate the request"
DOCUMENT_PORTFOLIO = "6b372483-a80f-4c32-8d23-e6b9397ee6d6"  # the sandbox key's fixed portfolio (the spec's x-mock.credentials)

FUND_NAMES = ("Global Macro Fund", "Treasury Reserve", "Digital Growth Fund", "Market Neutral Fund", "Yield Strategies", "Venture Holdings")
TRADED = ("BTC", "ETH", "SOL", "USDC", "LINK", "ADA", "UNI")
STAKEABLE = frozenset({"ETH", "SOL", "ADA"})
_ENTRIES = 1024  # per cache; the bytes each holds bound it first
_ENTRY_OVERHEAD = 200  # an entry's key tuple, dict slot and object headers
_KEYED_SIZE = 1024  # an HMAC object: its inner and outer SHA-384 states and their wrappers
_INT64_DIGITS = len(str(2**63 - 1))


def omniex_envelope(problem: Problem) -> Reply:
    """`{"errors": [{"error", "message"}], "meta": {}}`, one error per violation."""
    default = CODE_BY_STATUS.get(problem.status, "INTERNAL_SERVER_ERROR" if problem.status >= 500 else "ACCESS_DENIED")
    errors = [{"error": CODE_BY_REASON.get(v.reason, default), "message": v.message} for v in problem.violations]
    return json_reply(
        problem.status, {"errors": errors or [{"error": default, "message": problem.message}], "meta": {}}, headers=problem.headers
    )


def signature(keyed: hmac.HMAC, method: str, path: str, body: bytes, timestamp: str) -> str:
    """Omniex's scheme: lowercase hex HMAC-SHA384 of METHOD + PATH + BODY + TIMESTAMP (`keyed`: see `_keyed`)."""
    mac = keyed.copy()
    mac.update(method.encode() + path.encode() + body + timestamp.encode())
    return mac.hexdigest()


T = TypeVar("T")
_UNKNOWN_KEY = hmac.new(b"\x00unknown key", digestmod="sha384")  # an unknown key's request is still signed and compared


def _keyed(world: World, identity: Identity | None) -> hmac.HMAC:
    """HMAC-SHA384 keyed with the identity's secret, made once per identity of this world and copied for each
    message (keying costs about as much as hashing one). Found by the identity object, never by the secret."""
    if identity is None:
        return _UNKNOWN_KEY
    keyed = world.caches.lru("omniex.keyed", _ENTRIES, _ENTRIES * _KEYED_SIZE, _keyed_size)
    secret = identity.values.get("secret", b"")
    return _remembered(keyed, identity, None, lambda: hmac.new(secret, digestmod="sha384"))


def _keyed_size(_key: Any, _entry: tuple[Identity, hmac.HMAC]) -> int:
    return _KEYED_SIZE


def authenticate(request: AuthRequest) -> AuthOutcome:
    headers = request.headers
    missing = [name for name in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER) if not headers.get(name)]
    if missing:
        message = f"{AUTHENTICATION_FAILED}: missing {', '.join(missing)} header{'s' if len(missing) > 1 else ''}"
        return AuthOutcome(None, 401, message, [Violation("header", name, f"missing {name} header", "missing") for name in missing])
    timestamp = headers[TIMESTAMP_HEADER]
    problem = _timestamp_problem(timestamp, request.settings.signature_window_seconds)
    if problem:
        return AuthOutcome(None, 400, problem, [Violation("header", TIMESTAMP_HEADER, problem, "timestamp")])
    identity = identity_with(request.identities, "key", as_sent(headers[KEY_HEADER]))
    keyed = _keyed(request.world, identity)
    given = as_sent(headers[SIGNATURE_HEADER])
    mount_prefix = _first_segment(request.mount)
    unprefixed = request.path[len(mount_prefix) :] if request.path.startswith(mount_prefix + "/") else request.path
    matches = False
    # as sent (a session's prefix too), without the session's prefix, without the mount: all compared, always
    candidates = (
        (request.path, unprefixed) if not request.session_prefix else (request.session_prefix + request.path, request.path, unprefixed)
    )
    for path in candidates:
        matches |= hmac.compare_digest(given, signature(keyed, request.method, path, request.body, timestamp).encode())
    if identity is None:
        return _failed(KEY_HEADER, f"{KEY_HEADER} is not a known key")
    if not matches:
        return _failed(SIGNATURE_HEADER, f"{SIGNATURE_HEADER} does not match the request")
    if identity.forbidden:
        message = "this api key is not allowed to read portfolios"
        return AuthOutcome(identity, 401, message, [Violation("header", KEY_HEADER, message, "forbidden")])
    return AuthOutcome(identity)


def _first_segment(mount: str) -> str:
    """`/omniex` of the mount `/omniex/...`: the prefix a client may leave out of what it signs."""
    return "/" + mount.lstrip("/").partition("/")[0]


def _failed(header: str, why: str) -> AuthOutcome:
    return AuthOutcome(None, 401, f"{AUTHENTICATION_FAILED}: {why}", [Violation("header", header, f"{AUTHENTICATION_FAILED}: {why}")])


def _timestamp_problem(timestamp: str, window_seconds: int) -> str:
    """Why the timestamp is refused ("" if it is not). Its length is checked before `int`: an int64
    has at most 19 digits, and a longer text could be beyond what `int` converts at all."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _INT64_DIGITS):
        return f"{TIMESTAMP_HEADER} must be a Unix timestamp in milliseconds"
    skew = abs(time.time() * 1000 - int(timestamp)) / 1000
    if skew > window_seconds:
        return f"the request timestamp is {skew:.0f} s from the server clock, outside the {window_seconds} s window"
    return ""


def _remembered(cache: SizedLru[Any, Any], identity: Identity, variant: Hashable, make: Callable[[], T]) -> T:
    """What `make` gives for the identity (and `variant`), kept in `cache` under the identity object: its
    id, with the identity itself in the entry so that the id stays its own. Never under its key or secret."""
    key = (id(identity), variant)
    found = cache.get(key)
    if found is not None and found[0] is identity:
        return found[1]
    made = make()
    cache.put(key, (identity, made))
    return made


def _book_size(_key: Any, entry: tuple[Identity, list[dict[str, Any]]]) -> int:
    """A book in memory: about five and a half times its JSON (measured), and the entry's own overhead."""
    return 6 * len(orjson.dumps(entry[1])) + _ENTRY_OVERHEAD


def _listing_size(_key: Any, entry: tuple[Identity, bytes]) -> int:
    return len(entry[1]) + _ENTRY_OVERHEAD


def portfolios_of(world: World, identity: Identity) -> list[dict[str, Any]]:
    """The key's fixed portfolios, then its generated ones, valued at the sandbox clock's minute (worked
    out once per identity of this world and minute: about 20 KB each, at most 8 MiB of them)."""
    books = world.caches.lru("omniex.books", _ENTRIES, 8 << 20, _book_size)
    return _remembered(books, identity, world.clock.minute(), lambda: _book(world, identity, _minute(world)))


def _minute(world: World) -> datetime:
    """The instant a key's portfolios are valued at: the sandbox clock, to the minute (as Mesh's answers)."""
    return world.now().replace(second=0, microsecond=0)


def _book(world: World, identity: Identity, at: datetime) -> list[dict[str, Any]]:
    key = _key_of(identity)
    count = identity_rng(world.seed, "omniex", key).randint(2, 3)
    names = identity_rng(world.seed, "omniex-names", key).sample(FUND_NAMES, count)
    fixed = identity.data.get("portfolios") or []
    return [*fixed, *(_generated(world, key, index, name, at) for index, name in enumerate(names))]


def _key_of(identity: Identity) -> str:
    """The ONX-API-KEY of the identity, as its credentials entry gives it."""
    return str(identity.data.get("key", ""))


def _full_listing(world: World, identity: Identity, include: str | None) -> bytes:
    """The answer listing all of a key's portfolios, serialized once per `include` (None or `integrations`,
    the spec's enum) and clock minute. About 4 KB each, at most 4 MiB of them."""
    listings = world.caches.lru("omniex.listings", 2 * _ENTRIES, 4 << 20, _listing_size)
    variant = (include, world.clock.minute())
    return _remembered(listings, identity, variant, lambda: _listing(portfolios_of(world, identity), include))


def _listing(portfolios: list[dict[str, Any]], include: str | None) -> bytes:
    return trimmed(orjson.dumps({"data": [_view(p, include) for p in portfolios], "meta": {}}))


def _generated(world: World, key: str, index: int, name: str, now: datetime) -> dict[str, Any]:
    rng = identity_rng(world.seed, "omniex-portfolio", f"{key}|{index}")
    venues = rng.sample(sorted(VENUE_NAMES), rng.randint(2, 4))
    integrations = [{"id": uuid_from(rng), "venueId": venue, "integrationStatus": "verified"} for venue in venues]
    pending = rng.choice([v for v in sorted(VENUE_NAMES) if v not in venues])
    integrations.append({"id": uuid_from(rng), "venueId": pending, "integrationStatus": "requested"})  # no accounts yet
    custody = rng.random() < 0.5
    if custody:
        integrations.append({"id": uuid_from(rng), "venueId": CUSTODIAN[0], "integrationStatus": "verified"})
    positions = []
    for asset in rng.sample(TRADED, rng.randint(2, 4)):
        price = Decimal(str(world.market.price_usd(asset, now)))
        accounts = []
        for venue in rng.sample(venues, rng.randint(1, min(2, len(venues)))):
            amount = Decimal(str(rng.uniform(5_000, 250_000))) / price
            locked = amount * Decimal(str(rng.choice((0, 0, 0.05, 0.2))))
            balance: dict[str, Any] = {"trading": {"free": decimal_text(amount - locked), "locked": decimal_text(locked)}}
            if rng.random() < 0.25:
                balance["margin"] = {"locked": decimal_text(amount * Decimal("0.1"))}
            if asset in STAKEABLE and rng.random() < 0.5:
                balance["staking"] = {"locked": decimal_text(amount * Decimal("0.3"))}
            accounts.append({"venueId": venue, "name": account_name(venue, asset), "balance": balance})
        if custody:
            held = Decimal(str(rng.uniform(50_000, 1_000_000))) / price
            balance = {"custody": {"free": decimal_text(held * Decimal("0.9")), "locked": decimal_text(held * Decimal("0.1"))}}
            accounts.append({"venueId": CUSTODIAN[0], "name": account_name(CUSTODIAN[0], asset), "balance": balance})
        positions.append({"assetId": asset, "isCustomAsset": False, "accounts": accounts})
    created = datetime(2020, 6, 1, tzinfo=now.tzinfo) + timedelta(seconds=rng.randrange(4 * 365 * 86400))
    updated = max(created, now - timedelta(seconds=rng.randrange(3 * 86400)))
    return {
        "id": uuid_from(rng),
        "resource": "portfolio",
        "name": name,
        "integrations": integrations,
        "positions": positions,
        "createdAt": timestamp_text(created),
        "updatedAt": timestamp_text(updated),
    }


def _view(portfolio: dict[str, Any], include: str | None) -> dict[str, Any]:
    """Integrations are expanded only with include=integrations."""
    if include == "integrations":
        return portfolio
    return {key: value for key, value in portfolio.items() if key != "integrations"}


def _shaped(call: Call) -> list[dict[str, Any]] | None:
    """The portfolios a scenario gave the caller's key in this session (None: it gave none)."""
    assert call.identity is not None
    shaped = call.state.shaped(omniex_scenario.KEY, _key_of(call.identity))
    return None if shaped is None else omniex_scenario.portfolios_of(call.world, orjson.loads(shaped))


def _portfolios(call: Call, shaped: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The caller's portfolios: the scenario's (`_shaped`), else its fixed and generated ones."""
    assert call.identity is not None
    return portfolios_of(call.world, call.identity) if shaped is None else shaped


def list_portfolios(call: Call) -> Reply:
    assert call.identity is not None
    query = call.params["query"]
    shaped = _shaped(call)
    if "id" not in query and shaped is None:
        return Reply(200, _full_listing(call.world, call.identity, query.get("include")))
    portfolios = _portfolios(call, shaped)
    if "id" in query:
        wanted = {part.strip().lower() for part in query["id"].split(",")}
        portfolios = [p for p in portfolios if str(p["id"]).lower() in wanted]
    return Reply(200, _listing(portfolios, query.get("include")))


def get_portfolio(call: Call) -> Reply:
    wanted = call.params["path"]["id"].lower()
    for portfolio in _portfolios(call, _shaped(call)):
        if str(portfolio["id"]).lower() == wanted:
            return Reply(200, orjson.dumps({"data": _view(portfolio, call.params["query"].get("include")), "meta": {}}))
    message = "the requested portfolio was not found"
    return omniex_envelope(Problem(404, message, [Violation("path", "id", message)]))


VENDOR = Vendor(
    envelope=omniex_envelope,
    validation_status=400,
    handlers={"getPortfolios": list_portfolios, "getPortfolio": get_portfolio},
    authenticate=authenticate,
    strict_query=True,
    scenario=omniex_scenario.SCENARIO,
    well_known={f"id={DOCUMENT_PORTFOLIO}": "the reference's example portfolio (Master Fund 1) of the sandbox key"},
    signing=Signing("sha384", KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER),
)
