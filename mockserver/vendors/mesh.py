"""Mesh Connect: the ApiResult envelope and a coherent aggregated portfolio per UserId.

Every UserId gets a portfolio derived from a stable hash of (seed, UserId). Arbitrary
ids get one of four shapes (brokerage with crypto, crypto exchange, self-custody
wallet, equities only); a few named users force a shape, see NAMED_USERS.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from ..lru import trimmed
from ..sandbox.accounts import Holding, identity_rng, pick_holdings, symbols_of
from ..sandbox.caches import weigh_key_and_body
from ..sandbox.market import ASSETS, round_price
from ..sandbox.shares import apportion
from ..sandbox.world import World
from ..vocabulary import Call, Problem, Reply, Violation, json_reply
from . import Vendor, mesh_scenario

PORTFOLIO = "GET /api/v1/holdings/portfolio"
MAX_OFFSET_SECONDS = 14 * 3600  # the widest real time zone offset
EXCHANGE_ZONE = ZoneInfo("America/New_York")  # where the sandbox's equities trade

STATUS_BY_HTTP = {
    400: "badRequest",
    401: "permissionDenied",
    403: "permissionDenied",
    404: "notFound",
    409: "conflict",
    423: "locked",
    429: "tooManyRequest",
    451: "unavailableForLegalReasons",
}
ERROR_TYPE_BY_HTTP = {
    400: "invalidRequest",
    401: "unauthorized",
    403: "insufficientPermissions",
    404: "notFound",
    405: "methodNotAllowed",
    409: "conflict",
    413: "payloadTooLarge",
    415: "unsupportedMediaType",
    423: "locked",
    429: "tooManyRequests",
    451: "unavailableForLegalReasons",
}
DISPLAY_BY_STATUS = {
    "badRequest": "The request is not valid.",
    "permissionDenied": "You are not allowed to perform this action.",
    "notFound": "The requested resource was not found.",
    "conflict": "The request conflicts with the current state.",
    "locked": "The resource is locked.",
    "tooManyRequest": "Too many requests. Please try again later.",
    "unavailableForLegalReasons": "This service is not available in your region.",
    "serverFailure": "Something went wrong. Please try again later.",
}

# named users that force a portfolio shape (listed in docs/apis/mesh.md)
NAMED_USERS = {
    "empty-portfolio": "empty",
    "equities-only": "equities",
    "crypto-only": "crypto",
    "self-custody-wallet": "wallet",
    "brokerage-and-crypto": "brokerage",
}
_SHAPES = (("brokerage", 50), ("crypto", 25), ("wallet", 15), ("equities", 10))
_NETWORKS = ("eip155:1", "eip155:42161", "eip155:10", "eip155:8453", "eip155:137")


def error_hash(*parts: object) -> str:
    """An 8-hex grouping hash, like the errorHash Mesh sends."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:8]


_OK_HASH = error_hash("ok", PORTFOLIO)


def mesh_envelope(problem: Problem) -> Reply:
    status = STATUS_BY_HTTP.get(problem.status, "serverFailure" if problem.status >= 500 else "badRequest")
    error_type = ERROR_TYPE_BY_HTTP.get(problem.status, "serverFailure" if problem.status >= 500 else "invalidRequest")
    payload = {
        "status": status,
        "message": problem.message,
        "displayMessage": DISPLAY_BY_STATUS[status],
        "errorHash": error_hash(status, error_type, *sorted(v.name for v in problem.violations)),
        "errorType": error_type,
        "errorData": {"violations": [v.as_dict() for v in problem.violations]} if problem.violations else None,
    }
    return json_reply(problem.status, payload, headers=dict(problem.headers))


def offset_rule(call: Call) -> Reply | None:
    """No time zone is more than 14 hours from UTC: a TimezoneOffset beyond is 400 badRequest."""
    if abs(call.params["query"].get("TimezoneOffset", 0)) <= MAX_OFFSET_SECONDS:
        return None
    message = f"query parameter 'TimezoneOffset' must be between -{MAX_OFFSET_SECONDS} and {MAX_OFFSET_SECONDS} seconds"
    return mesh_envelope(Problem(400, message, [Violation("query", "TimezoneOffset", message)]))


def portfolio_handler(call: Call) -> Reply:
    query = call.params["query"]
    now = call.world.now().replace(second=0, microsecond=0)
    user_id, offset = query["UserId"], query.get("TimezoneOffset", 0)
    raw = call.state.shaped(mesh_scenario.USER, user_id)  # a user a scenario shaped
    if raw is None:
        return Reply(200, _portfolio_body(call.world, user_id, offset, now))
    shaped = orjson.loads(raw)
    error = shaped.get("error")
    if error is not None:
        message = error.get("message") or f"the scenario of user {user_id!r} answers {error['status']}"
        return mesh_envelope(Problem(error["status"], message))
    content = _portfolio(call.world, *_shaped_holdings(call.world, shaped), offset, now)
    return Reply(200, orjson.dumps({"content": content, "status": "ok", "message": "", "errorHash": _OK_HASH, "errorType": ""}))


def _portfolio_body(world: World, user_id: str, offset: int, now: datetime) -> bytes:
    """Serialized once per (user, offset, minute) of this world: the answer cannot change within that key.
    About 7 KB each, at most 1,024 of them and 8 MiB with their keys."""
    cache = world.caches.lru("mesh.portfolio", 1024, 8 << 20, weigh_key_and_body)
    key = (user_id, offset, now)
    body = cache.get(key)
    if body is None:
        content = build_portfolio(world, user_id, offset, now)
        body = trimmed(orjson.dumps({"content": content, "status": "ok", "message": "", "errorHash": _OK_HASH, "errorType": ""}))
        cache.put(key, body)
    return body


def shape_of(world: World, user_id: str) -> str:
    if user_id in NAMED_USERS:
        return NAMED_USERS[user_id]
    roll = identity_rng(world.seed, "mesh-shape", user_id).randrange(100)
    for shape, weight in _SHAPES:
        if roll < weight:
            return shape
        roll -= weight
    return _SHAPES[0][0]


def _holdings(world: World, user_id: str, shape: str) -> tuple[list[Holding], list[Holding]]:
    rng = identity_rng(world.seed, "mesh", user_id)
    equities: list[Holding] = []
    crypto: list[Holding] = []
    if shape in ("brokerage", "equities"):
        equities = pick_holdings(rng, symbols_of("equity"), rng.randint(2, 4), world.market)
    if shape in ("brokerage", "crypto"):
        crypto = pick_holdings(rng, symbols_of("crypto"), rng.randint(2, 4), world.market)
    if shape == "wallet":
        crypto = pick_holdings(rng, symbols_of("crypto", evm_only=True), rng.randint(2, 4), world.market)
    return equities, crypto


def day_start(now: datetime, offset_seconds: int) -> datetime:
    """Midnight of the user's local day, for a zone `offset_seconds` east of UTC."""
    local = now + timedelta(seconds=offset_seconds)
    return local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(seconds=offset_seconds)


def exchange_day_start(now: datetime) -> datetime:
    """Midnight of the exchange's day (New York, daylight saving included): an equity's daily return is
    measured over its exchange's trading day, whatever the user's TimezoneOffset."""
    local = now.astimezone(EXCHANGE_ZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)


def build_portfolio(world: World, user_id: str, offset: int, now: datetime) -> dict[str, Any]:
    shape = shape_of(world, user_id)
    equities, crypto = _holdings(world, user_id, shape)
    return _portfolio(world, equities, crypto, _wallet(world, user_id) if shape == "wallet" else None, {}, offset, now)


def _wallet(world: World, user_id: str) -> str:
    return "0x" + hashlib.sha256(f"{world.seed}|wallet|{user_id}".encode()).hexdigest()[:40]


def _shaped_holdings(
    world: World, user: dict[str, Any]
) -> tuple[list[Holding], list[Holding], str | None, dict[str, list[dict[str, Any]]]]:
    """A scenario user's holdings, wallet and the distributions it gave (mesh_scenario.py)."""
    equities, crypto = mesh_scenario.holdings_of(user)
    wallet = _wallet(world, user["userId"]) if user.get("accountType") == "self-custody" else None
    given = {p["symbol"]: p["distribution"] for p in user.get("positions", []) if p.get("distribution")}
    return equities, crypto, wallet, given


def _portfolio(
    world: World,
    equities: list[Holding],
    crypto: list[Holding],
    wallet: str | None,
    distributions: dict[str, list[dict[str, Any]]],
    offset: int,
    now: datetime,
) -> dict[str, Any]:
    """The portfolio of these holdings now: values, returns and percentages that add up."""
    equity_positions = [_position(h, now, exchange_day_start(now), world, None) for h in equities]
    crypto_positions = [_position(h, now, day_start(now, offset), world, wallet, distributions.get(h.symbol)) for h in crypto]
    _fill_percentages([*equity_positions, *crypto_positions])
    cost = sum(h.amount * h.unit_cost for h in [*equities, *crypto])
    equities_value = round(sum(p["marketValue"] for p in equity_positions), 4)
    crypto_value = round(sum(p["marketValue"] for p in crypto_positions), 4)
    total = equities_value + crypto_value
    return {
        "portfolioCostBasis": round(cost, 2),
        "actualPortfolioPerformance": round((total - cost) / cost * 100, 2) if cost else 0.0,
        "equitiesValue": equities_value,
        "cryptocurrenciesValue": crypto_value,
        "nftsValue": 0.0,
        "equityPositions": equity_positions,
        "cryptocurrencyPositions": crypto_positions,
        "nftPositions": [],
    }


def _position(
    holding: Holding, now: datetime, opened: datetime, world: World, wallet: str | None, given: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    last = round_price(world.market.price_usd(holding.symbol, now))
    open_price = round_price(world.market.price_usd(holding.symbol, opened))
    market_value = round(holding.amount * last, 4)
    paid = holding.amount * holding.unit_cost
    position: dict[str, Any] = {
        "portfolioPercentage": 0.0,
        "totalReturn": round(market_value - paid, 4),
        "returnPercentage": round((market_value - paid) / paid * 100, 4) if paid else 0.0,
        "companyName": ASSETS[holding.symbol].name,
        "totalDailyReturn": round(holding.amount * (last - open_price), 4),
        "dailyReturnPercentage": round((last / open_price - 1) * 100, 4),
        "marketValue": market_value,
        "lastPrice": last,
        "symbol": holding.symbol,
        "amount": holding.amount,
        "costBasis": holding.unit_cost,
    }
    if wallet is not None:
        if given is None:
            position["distribution"] = _distribution(holding, wallet, world)
        else:
            position["distribution"] = [{"caipNetworkId": part["network"], "address": wallet, "amount": part["amount"]} for part in given]
    return position


def _distribution(holding: Holding, wallet: str, world: World) -> list[dict[str, Any]]:
    """Split a self-custody position over 1-3 EVM networks; the parts sum to the amount exactly."""
    rng = identity_rng(world.seed, "mesh-networks", f"{wallet}|{holding.symbol}")
    networks = rng.sample(_NETWORKS, rng.randint(1, 3))
    total = Decimal(str(holding.amount))
    step = Decimal("0.000001")
    parts: list[Decimal] = []
    for _ in networks[:-1]:
        parts.append((total * Decimal(str(rng.uniform(0.2, 0.6)))).quantize(step, rounding=ROUND_DOWN))
        total -= parts[-1]
    parts.append(total)
    return [{"caipNetworkId": n, "address": wallet, "amount": float(a)} for n, a in zip(networks, parts, strict=True)]


def _fill_percentages(positions: list[dict[str, Any]]) -> None:
    """Shares of total value in 0.0001 units, largest remainder first, so they sum to exactly 100."""
    values = [round(p["marketValue"] * 10_000) for p in positions]  # market values have four decimals
    for position, share in zip(positions, apportion(1_000_000, values), strict=True):
        position["portfolioPercentage"] = share / 10_000


VENDOR = Vendor(
    envelope=mesh_envelope,
    validation_status=400,
    handlers={PORTFOLIO: portfolio_handler},
    rules={PORTFOLIO: (offset_rule,)},
    well_known={f"UserId={user}": f"forces the {shape!r} portfolio shape" for user, shape in NAMED_USERS.items()},
    scenario=mesh_scenario.SCENARIO,
)
