"""Omniex keys shaped at run time (a scenario's `omniex` member): an API key's portfolios in the
reference's own terms, their names, integrations, and per asset the accounts and their balances.

    {"keys": [{"key": "mock-onx-key",
               "portfolios": [{"name": "Alpha Fund",
                               "integrations": [{"venueId": "binance"}, {"venueId": "bitgo"},
                                                {"venueId": "kraken", "integrationStatus": "requested"}],
                               "positions": [{"assetId": "BTC", "accounts": [
                                   {"venueId": "binance", "balance": {"trading": {"free": "1.5", "locked": "0.25"}}},
                                   {"venueId": "bitgo", "balance": {"custody": {"free": "10", "locked": "0"}}}]}]}]}]}

`key` is an `ONX-API-KEY` the sandbox accepts (an entry of its credentials): the portfolios given
replace that key's fixed and generated ones, in the order given (an empty list: it sees none). A key
no scenario names keeps its own. Balances are decimal strings (or JSON numbers) of at most 8 places,
answered as Omniex writes them (`"10"` is `"10.0"`): `trading` (free, locked), `margin` (locked) and
`staking` (locked) at an exchange, `custody` (free, locked) at the custodian `bitgo` only, as in
generated portfolios. An account is held at one of its portfolio's verified integrations; without
`integrations`, these are the venues its accounts use, all verified. A portfolio as GET /portfolios
answers it (with include=integrations) is a portfolio of a scenario: a key's answer can be saved
and given back.

Left out: `integrationStatus` is verified, `isCustomAsset` false, an account's `name` is
"<Venue> <asset> Account" ("BitGo <asset> Custody Account"), ids are derived from the seed, the key
and the portfolio's place (as generated ids are), `updatedAt` is the sandbox clock's now (or
`createdAt`, if later) and `createdAt` is `updatedAt`.

The venues, account names and the way Omniex writes decimals, instants and ids live here, shared with
the generated portfolios (omniex.py).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Hashable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from random import Random
from typing import Any

from ..sandbox.accounts import identity_rng
from ..sandbox.world import World
from . import documents_scenario, each_item_problems, listed, unknown_members

KEY = "scenario-key"
VENUE_NAMES = {
    "binance": "Binance",
    "gdax": "Coinbase Pro",
    "gemini": "Gemini",
    "itbit": "itBit",
    "kraken": "Kraken",
    "bitstamp": "Bitstamp",
}
CUSTODIAN = ("bitgo", "BitGo")
VENUES = (*VENUE_NAMES, CUSTODIAN[0])
STATUSES = ("verified", "requested")
CUSTODY = "custody"
BALANCES = {"trading": ("free", "locked"), "margin": ("locked",), "staking": ("locked",), CUSTODY: ("free", "locked")}
MAX_KEYS, MAX_PORTFOLIOS, MAX_POSITIONS, MAX_TEXT = 100, 20, 50, 200
_KEY_MEMBERS = ("key", "portfolios")
_PORTFOLIO_MEMBERS = ("id", "resource", "name", "integrations", "positions", "createdAt", "updatedAt")
_INTEGRATION_MEMBERS = ("id", "venueId", "integrationStatus")
_POSITION_MEMBERS = ("assetId", "isCustomAsset", "accounts")
_ACCOUNT_MEMBERS = ("venueId", "name", "balance")
_ASSET_ID = re.compile(r"[A-Za-z0-9._-]{1,20}")
_DECIMAL_TEXT = re.compile(r"[0-9]{1,30}(\.[0-9]{1,30})?")
_EIGHT_PLACES = Decimal("0.00000001")
_MAX_BALANCE = Decimal(10) ** 15
_DECIMAL_RULE = 'a decimal of 0 or more, below 10^15, with at most 8 places ("1.009" or 1.009)'


def account_name(venue: str, asset: str) -> str:
    if venue == CUSTODIAN[0]:
        return f"{CUSTODIAN[1]} {asset} Custody Account"
    return f"{VENUE_NAMES[venue]} {asset} Account"


def decimal_text(value: Decimal) -> str:
    """Decimal strings as the reference writes them: `1.009`, `0.2`, `0.0`."""
    text = format(value.quantize(_EIGHT_PLACES, rounding=ROUND_DOWN).normalize(), "f")
    return text if "." in text else text + ".0"


def timestamp_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def uuid_from(rng: Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- check


def check(payload: Any) -> list[str]:
    keys, problems = listed(payload, "omniex", "keys", MAX_KEYS)
    seen_keys: set[Hashable] = set()
    seen_ids: set[Hashable] = set()
    problems.extend(each_item_problems(keys, "omniex.keys", _key_problems, seen_keys, seen_ids))
    return problems


def _key_problems(entry: Any, where: str, seen_keys: set[Hashable], seen_ids: set[Hashable]) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: a key is an object"]
    problems = unknown_members(entry, _KEY_MEMBERS, where)
    key = entry.get("key")
    if _text(key):
        problems.extend(_once(key, seen_keys, f"{where}.key"))
    else:
        problems.append(f"{where}.key: an ONX-API-KEY, a string of 1 to {MAX_TEXT} characters")
    portfolios = entry.get("portfolios")
    if not isinstance(portfolios, list) or len(portfolios) > MAX_PORTFOLIOS:
        return [*problems, f"{where}.portfolios: a list of at most {MAX_PORTFOLIOS} portfolios"]
    problems.extend(each_item_problems(portfolios, f"{where}.portfolios", _portfolio_problems, seen_ids))
    return problems


def _portfolio_problems(portfolio: Any, where: str, seen_ids: set[Hashable]) -> list[str]:
    if not isinstance(portfolio, dict):
        return [f"{where}: a portfolio is an object"]
    problems = unknown_members(portfolio, _PORTFOLIO_MEMBERS, where)
    if portfolio.get("resource", "portfolio") != "portfolio":
        problems.append(f"{where}.resource: portfolio (or left out)")
    if not _text(portfolio.get("name")):
        problems.append(f"{where}.name: a string of 1 to {MAX_TEXT} characters")
    if "id" in portfolio:
        problems.extend(_uuid_problems(portfolio["id"], f"{where}.id") or _once(portfolio["id"].lower(), seen_ids, f"{where}.id"))
    problems.extend(_moment_problems(portfolio, where))
    integrations = portfolio.get("integrations", [])
    if not isinstance(integrations, list) or len(integrations) > len(VENUES):
        problems.append(f"{where}.integrations: a list of at most {len(VENUES)} integrations, one per venue")
        integrations = []
    venues: set[Hashable] = set()
    problems.extend(each_item_problems(integrations, f"{where}.integrations", _integration_problems, venues))
    positions = portfolio.get("positions")
    if not isinstance(positions, list) or len(positions) > MAX_POSITIONS:
        return [*problems, f"{where}.positions: a list of at most {MAX_POSITIONS} positions"]
    verified = _verified_venues(portfolio)
    assets: set[Hashable] = set()
    problems.extend(each_item_problems(positions, f"{where}.positions", _position_problems, verified, assets))
    return problems


def _moment_problems(portfolio: dict[str, Any], where: str) -> list[str]:
    problems = [
        f"{where}.{name}: a date-time with its offset, such as 2024-05-01T12:00:00Z"
        for name in ("createdAt", "updatedAt")
        if name in portfolio and _moment(portfolio[name]) is None
    ]
    created, updated = _moment(portfolio.get("createdAt")), _moment(portfolio.get("updatedAt"))
    if created is not None and updated is not None and created > updated:
        problems.append(f"{where}.updatedAt: not before createdAt")
    return problems


def _integration_problems(integration: Any, where: str, venues: set[Hashable]) -> list[str]:
    if not isinstance(integration, dict):
        return [f"{where}: an integration is an object"]
    problems = unknown_members(integration, _INTEGRATION_MEMBERS, where)
    venue = integration.get("venueId")
    if venue in VENUES:
        problems.extend(_once(venue, venues, f"{where}.venueId"))
    else:
        problems.append(f"{where}.venueId: one of {', '.join(VENUES)}")
    if integration.get("integrationStatus", STATUSES[0]) not in STATUSES:
        problems.append(f"{where}.integrationStatus: one of {', '.join(STATUSES)}")
    if "id" in integration:
        problems.extend(_uuid_problems(integration["id"], f"{where}.id"))
    return problems


def _verified_venues(portfolio: dict[str, Any]) -> set[str] | None:
    """The venues where the portfolio's accounts may be (None: any, its integrations follow them)."""
    if "integrations" not in portfolio:
        return None
    found = portfolio["integrations"] if isinstance(portfolio["integrations"], list) else []
    return {
        integration["venueId"]
        for integration in found
        if isinstance(integration, dict)
        and integration.get("venueId") in VENUES
        and integration.get("integrationStatus", STATUSES[0]) == "verified"
    }


def _position_problems(position: Any, where: str, verified: set[str] | None, assets: set[Hashable]) -> list[str]:
    if not isinstance(position, dict):
        return [f"{where}: a position is an object"]
    problems = unknown_members(position, _POSITION_MEMBERS, where)
    asset = position.get("assetId")
    if isinstance(asset, str) and _ASSET_ID.fullmatch(asset):
        problems.extend(_once(asset, assets, f"{where}.assetId"))
    else:
        problems.append(f"{where}.assetId: 1 to 20 letters, digits or . _ -, such as BTC")
    if not isinstance(position.get("isCustomAsset", False), bool):
        problems.append(f"{where}.isCustomAsset: true or false")
    accounts = position.get("accounts")
    if not isinstance(accounts, list) or len(accounts) > len(VENUES):
        return [*problems, f"{where}.accounts: a list of at most {len(VENUES)} accounts, one per venue"]
    venues: set[Hashable] = set()
    problems.extend(each_item_problems(accounts, f"{where}.accounts", _account_problems, verified, venues))
    return problems


def _account_problems(account: Any, where: str, verified: set[str] | None, venues: set[Hashable]) -> list[str]:
    if not isinstance(account, dict):
        return [f"{where}: an account is an object"]
    problems = unknown_members(account, _ACCOUNT_MEMBERS, where)
    venue = account.get("venueId")
    if venue not in VENUES:
        problems.append(f"{where}.venueId: one of {', '.join(VENUES)}")
        venue = None
    elif verified is not None and venue not in verified:
        problems.append(
            f"{where}.venueId: {venue} is not one of the portfolio's verified integrations ({', '.join(sorted(verified)) or 'none'})"
        )
    else:
        problems.extend(_once(venue, venues, f"{where}.venueId"))
    if "name" in account and not _text(account["name"]):
        problems.append(f"{where}.name: a string of 1 to {MAX_TEXT} characters")
    return [*problems, *_balance_problems(account.get("balance"), f"{where}.balance", venue)]


def _balance_problems(balance: Any, where: str, venue: str | None) -> list[str]:
    if not isinstance(balance, dict) or not balance:
        return [f"{where}: an object of one or more of {', '.join(BALANCES)}"]
    problems = []
    for kind, amounts in balance.items():
        members = BALANCES.get(kind)
        if members is None:
            problems.append(f"{where}.{kind}: unknown balance (known: {', '.join(BALANCES)})")
            continue
        if venue is not None and (kind == CUSTODY) != (venue == CUSTODIAN[0]):
            problems.append(f"{where}.{kind}: custody balances are held at {CUSTODIAN[0]}, the others at an exchange")
        if not isinstance(amounts, dict) or set(amounts) != set(members):
            problems.append(f"{where}.{kind}: an object of {', '.join(members)}")
            continue
        problems.extend(f"{where}.{kind}.{member}: {_DECIMAL_RULE}" for member in members if _decimal(amounts[member]) is None)
    return problems


def _once(value: Hashable, seen: set[Hashable], where: str) -> list[str]:
    """Nothing the first time `value` is seen; after, that it is listed twice."""
    if value in seen:
        return [f"{where}: {value} is listed twice"]
    seen.add(value)
    return []


def _text(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_TEXT


def _uuid_problems(value: Any, where: str) -> list[str]:
    if isinstance(value, str) and len(value) == 36:
        try:
            uuid.UUID(value)
            return []
        except ValueError:
            pass
    return [f"{where}: a UUID, such as 6b372483-a80f-4c32-8d23-e6b9397ee6d6"]


def _moment(value: Any) -> datetime | None:
    """A date-time with its offset (in UTC, as Omniex writes it), None when `value` is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _decimal(value: Any) -> Decimal | None:
    """A balance as given (a decimal string or a JSON number), None when it is not one Omniex can write."""
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        amount = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float) and math.isfinite(value):
        amount = Decimal(str(value))
    else:
        return None
    if not 0 <= amount < _MAX_BALANCE or amount.quantize(_EIGHT_PLACES) != amount:
        return None
    return amount


# --- install, export


# --- the answer


def portfolios_of(world: World, shaped: dict[str, Any]) -> list[dict[str, Any]]:
    """A shaped key's portfolios as Omniex answers them, at the world's now."""
    now = world.now()
    return [_portfolio(world, shaped["key"], index, raw, now) for index, raw in enumerate(shaped["portfolios"])]


def _portfolio(world: World, key: str, index: int, raw: dict[str, Any], now: datetime) -> dict[str, Any]:
    rng = identity_rng(world.seed, "omniex-scenario", f"{key}|{index}")
    derived_id = uuid_from(rng)  # drawn first, given or not: the other ids do not depend on it
    positions = raw["positions"]
    used = dict.fromkeys(account["venueId"] for position in positions for account in position["accounts"])
    integrations = raw["integrations"] if "integrations" in raw else [{"venueId": venue} for venue in used]
    given_created = _moment(raw.get("createdAt"))
    updated = _moment(raw.get("updatedAt")) or max(given_created or now, now)
    return {
        "id": raw.get("id", derived_id),
        "resource": "portfolio",
        "name": raw["name"],
        "integrations": [_integration(integration, uuid_from(rng)) for integration in integrations],
        "positions": [_position(position) for position in positions],
        "createdAt": timestamp_text(given_created or updated),
        "updatedAt": timestamp_text(updated),
    }


def _integration(raw: dict[str, Any], derived_id: str) -> dict[str, Any]:
    return {"id": raw.get("id", derived_id), "venueId": raw["venueId"], "integrationStatus": raw.get("integrationStatus", STATUSES[0])}


def _position(raw: dict[str, Any]) -> dict[str, Any]:
    asset = raw["assetId"]
    accounts = [
        {
            "venueId": account["venueId"],
            "name": account.get("name") or account_name(account["venueId"], asset),
            "balance": {
                kind: {member: decimal_text(_amount(amounts[member])) for member in BALANCES[kind]}
                for kind, amounts in account["balance"].items()
            },
        }
        for account in raw["accounts"]
    ]
    return {"assetId": asset, "isCustomAsset": raw.get("isCustomAsset", False), "accounts": accounts}


def _amount(value: Any) -> Decimal:
    amount = _decimal(value)
    assert amount is not None  # checked when installed
    return amount


SCENARIO = documents_scenario(check, "keys", KEY, lambda entry: entry["key"])
