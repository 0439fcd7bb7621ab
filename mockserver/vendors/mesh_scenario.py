"""Mesh users shaped at run time (a scenario's `mesh` member): a UserId's account type, positions
and an optional forced error.

    {"users": [{"userId": "alice", "accountType": "brokerage",
                "positions": [{"symbol": "BTC", "amount": 0.5, "costBasis": 30000},
                              {"symbol": "AAPL", "amount": 10, "costBasis": 150}],
                "error": {"status": 423, "message": "..."}}]}

`accountType` is `brokerage` (equities and crypto), `exchange` (crypto) or `self-custody` (EVM
crypto, with its wallet and a `distribution` by network, given or generated). `costBasis` is the
USD paid per unit, as Mesh reports it. The portfolio is then computed from these positions and the
shared prices exactly as for a generated user: market values, returns, daily returns and
percentages that add up. With `error`, the user's portfolio request answers that status in Mesh's
envelope.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from ..sandbox.accounts import Holding, symbols_of
from . import documents_scenario, each_item_problems, listed, unknown_members

USER = "scenario-user"
ACCOUNT_TYPES = {"brokerage": "brokerage", "exchange": "crypto", "self-custody": "wallet"}  # -> the portfolio shape
NETWORKS = ("eip155:1", "eip155:42161", "eip155:10", "eip155:8453", "eip155:137")
ERROR_STATUSES = (400, 401, 403, 404, 409, 423, 429, 451, 500, 503)
MAX_USERS, MAX_POSITIONS = 1000, 100
_USER_MEMBERS = {"userId", "accountType", "positions", "error"}
_POSITION_MEMBERS = {"symbol", "amount", "costBasis", "distribution"}
_NO_DATE = datetime(1970, 1, 1, tzinfo=UTC)  # Mesh reports no date of purchase: a scenario gives none


def check(payload: Any) -> list[str]:
    users, problems = listed(payload, "mesh", "users", MAX_USERS)
    problems.extend(each_item_problems(users, "mesh.users", _user_problems))
    return problems


def _user_problems(user: Any, where: str) -> list[str]:
    if not isinstance(user, dict):
        return [f"{where}: a user is an object"]
    problems = unknown_members(user, _USER_MEMBERS, where)
    if not isinstance(user.get("userId"), str) or not 1 <= len(user["userId"]) <= 200:
        problems.append(f"{where}.userId: a string of 1 to 200 characters")
    account = user.get("accountType", "brokerage")
    if account not in ACCOUNT_TYPES:
        problems.append(f"{where}.accountType: one of {', '.join(ACCOUNT_TYPES)}")
        account = "brokerage"
    error = user.get("error")
    if error is not None:
        if not isinstance(error, dict) or error.get("status") not in ERROR_STATUSES or set(error) - {"status", "message"}:
            problems.append(f"{where}.error: {{'status': one of {', '.join(map(str, ERROR_STATUSES))}, 'message'?: text}}")
        elif not isinstance(error.get("message", ""), str):
            problems.append(f"{where}.error.message: text")
    positions = user.get("positions", [])
    if not isinstance(positions, list) or len(positions) > MAX_POSITIONS:
        return [*problems, f"{where}.positions: a list of at most {MAX_POSITIONS} positions"]
    allowed = _symbols(account)
    seen: set[str] = set()
    problems.extend(each_item_problems(positions, f"{where}.positions", _position_problems, account, allowed, seen))
    return problems


def _position_problems(position: Any, where: str, account: str, allowed: list[str], seen: set[str]) -> list[str]:
    if not isinstance(position, dict):
        return [f"{where}: a position is an object"]
    problems = unknown_members(position, _POSITION_MEMBERS, where)
    symbol = position.get("symbol")
    if symbol not in allowed:
        problems.append(f"{where}.symbol: a {account} account holds {', '.join(allowed)}")
    elif symbol in seen:
        problems.append(f"{where}.symbol: {symbol} is listed twice")
    else:
        seen.add(symbol)
    amount = position.get("amount")
    if not _number(amount) or amount <= 0:
        problems.append(f"{where}.amount: a number above 0")
    if not _number(position.get("costBasis")) or position["costBasis"] < 0:
        problems.append(f"{where}.costBasis: the USD paid per unit, a number of 0 or more")
    distribution = position.get("distribution")
    if distribution is not None:
        problems.extend(_distribution_problems(distribution, f"{where}.distribution", account, amount))
    return problems


def _distribution_problems(distribution: Any, where: str, account: str, amount: Any) -> list[str]:
    if account != "self-custody":
        return [f"{where}: only a self-custody position is spread over networks"]
    if not isinstance(distribution, list) or not 1 <= len(distribution) <= len(NETWORKS):
        return [f"{where}: a list of 1 to {len(NETWORKS)} parts"]
    problems = []
    for index, part in enumerate(distribution):
        if not isinstance(part, dict) or part.get("network") not in NETWORKS or not _number(part.get("amount")) or part["amount"] <= 0:
            problems.append(f"{where}[{index}]: {{'network': one of {', '.join(NETWORKS)}, 'amount': a number above 0}}")
    if not problems and _number(amount) and not math.isclose(sum(part["amount"] for part in distribution), amount, rel_tol=1e-9):
        problems.append(f"{where}: the parts' amounts add up to {sum(part['amount'] for part in distribution)}, not the amount {amount}")
    return problems


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _symbols(account: str) -> list[str]:
    if account == "brokerage":
        return [*symbols_of("equity"), *symbols_of("crypto")]
    return symbols_of("crypto", evm_only=account == "self-custody")


def holdings_of(user: dict[str, Any]) -> tuple[list[Holding], list[Holding]]:
    """A scenario user's (equities, crypto), in the order given."""
    equities, crypto = [], []
    equity_symbols = set(symbols_of("equity"))
    for position in user.get("positions", []):
        holding = Holding(position["symbol"], float(position["amount"]), float(position["costBasis"]), _NO_DATE)
        (equities if position["symbol"] in equity_symbols else crypto).append(holding)
    return equities, crypto


SCENARIO = documents_scenario(check, "users", USER, lambda user: user["userId"])
