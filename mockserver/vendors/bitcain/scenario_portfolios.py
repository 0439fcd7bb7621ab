"""A scenario user's portfolios: checked as creating them would be, then stored unfunded.

A portfolio is given as the create body has it (`name`, `target_allocations`, `initial_value_usd`,
`description`, `risk_tolerance`, `is_active`, `is_default`, `tags`), with the instant it was made,
`created_at`, and optionally its `portfolio_id`, `updated_at` and `status`. It is stored without
positions: when read, it is bought with its initial value at the prices of `created_at`
(`portfolios.load`), exactly as a portfolio created at that instant was.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import unknown_members
from .ledger import SUPPORTED_ASSETS
from .portfolios import DEFAULT_RISK_TOLERANCE, RISK_TOLERANCES, STATUSES, allocation_problems, stable_uuid
from .rules import MAX_VALUE_USD
from .scenario_values import INSTANT, decimal, instant, text_within
from .validation_errors import BODY_FIELDS, CSV_FIELD
from .valuation import money, text

MAX_PORTFOLIOS = 100  # of one user
_MAX_NAME, _MAX_DESCRIPTION, _MAX_TAGS, _MAX_TAG = 100, 1000, 50, 100
_VALUE_PLACES = 8
_MEMBERS = frozenset({*BODY_FIELDS, "portfolio_id", "created_at", "updated_at", "status"} - {CSV_FIELD})  # the create body's, and more


def problems_of(user_id: str, given: Any, where: str, ids: set[str]) -> list[str]:
    """Every problem of a user's portfolios: each one's, a name or id given twice (`ids`: those
    the scenario's other users took), more than one default."""
    if not isinstance(given, list) or len(given) > MAX_PORTFOLIOS:
        return [f"{where}: a list of at most {MAX_PORTFOLIOS} portfolios"]
    problems = []
    names: set[str] = set()
    for index, portfolio in enumerate(given):
        here = f"{where}[{index}]"
        found = _portfolio_problems(portfolio, here)
        problems.extend(found)
        if found:
            continue
        folded = portfolio["name"].casefold()
        if folded in names:
            problems.append(f"{here}.name: {portfolio['name']!r} is taken (names are unique per user, whatever their case)")
        names.add(folded)
        portfolio_id = portfolio_id_of(user_id, portfolio)
        if portfolio_id in ids:
            problems.append(f"{here}.portfolio_id: {portfolio_id} names two portfolios")
        ids.add(portfolio_id)
    if sum(1 for portfolio in given if isinstance(portfolio, dict) and portfolio.get("is_default") is True) > 1:
        problems.append(f"{where}: one portfolio at most is the default")
    return problems


def _portfolio_problems(portfolio: Any, where: str) -> list[str]:
    if not isinstance(portfolio, dict):
        return [f"{where}: a portfolio is an object"]
    problems = unknown_members(portfolio, _MEMBERS, where)
    if "portfolio_id" in portfolio and not _is_uuid(portfolio["portfolio_id"]):
        problems.append(f"{where}.portfolio_id: a UUID in lower case")
    if not text_within(portfolio.get("name"), _MAX_NAME):
        problems.append(f"{where}.name: a string of 1 to {_MAX_NAME} characters")
    if portfolio.get("description") is not None and not text_within(portfolio["description"], _MAX_DESCRIPTION, least=0):
        problems.append(f"{where}.description: null or a string of at most {_MAX_DESCRIPTION} characters")
    problems.extend(_allocation_problems(portfolio.get("target_allocations"), f"{where}.target_allocations"))
    if portfolio.get("risk_tolerance", DEFAULT_RISK_TOLERANCE) not in RISK_TOLERANCES:
        problems.append(f"{where}.risk_tolerance: one of {', '.join(RISK_TOLERANCES)}")
    problems.extend(
        f"{where}.{name}: true or false" for name in ("is_active", "is_default") if not isinstance(portfolio.get(name, True), bool)
    )
    tags = portfolio.get("tags", [])
    if not isinstance(tags, list) or len(tags) > _MAX_TAGS or not all(text_within(tag, _MAX_TAG, least=0) for tag in tags):
        problems.append(f"{where}.tags: a list of at most {_MAX_TAGS} strings of at most {_MAX_TAG} characters")
    if decimal(portfolio.get("initial_value_usd", 0), _VALUE_PLACES, MAX_VALUE_USD) is None:
        problems.append(f"{where}.initial_value_usd: USD from 0 to {MAX_VALUE_USD:f}, at most {_VALUE_PLACES} decimals")
    created = instant(portfolio.get("created_at"))
    if created is None:
        problems.append(f"{where}.created_at: {INSTANT} (when it was funded)")
    if "updated_at" in portfolio:
        updated = instant(portfolio["updated_at"])
        if updated is None or (created is not None and updated < created):
            problems.append(f"{where}.updated_at: {INSTANT}, not before created_at")
    if portfolio.get("status", "active") not in STATUSES:
        problems.append(f"{where}.status: one of {', '.join(STATUSES)}")
    return problems


def _allocation_problems(targets: Any, where: str) -> list[str]:
    """Weights from 0 to 1 (the schema's), of supported assets, that sum to 1 (the create rule's)."""
    if not isinstance(targets, dict) or not 1 <= len(targets) <= len(SUPPORTED_ASSETS):
        return [f"{where}: an object of 1 to {len(SUPPORTED_ASSETS)} assets -> their weight"]
    weights = [weight for weight in targets.values() if not isinstance(weight, bool) and isinstance(weight, (int, float))]
    if len(weights) < len(targets) or not all(0 <= weight <= 1 for weight in weights):
        return [f"{where}: each weight is a number from 0 to 1"]
    return [f"{where}: {problem}" for problem in allocation_problems(targets, SUPPORTED_ASSETS)]


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def portfolio_id_of(user_id: str, portfolio: dict[str, Any]) -> str:
    """The id given, or one that the user and the portfolio's name make."""
    return str(portfolio.get("portfolio_id") or stable_uuid("bitcain-scenario-portfolio", user_id, portfolio["name"].casefold()))


def portfolio_doc(user_id: str, portfolio: dict[str, Any]) -> dict[str, Any]:
    """A checked portfolio as the store keeps one, its positions left to be bought when read."""
    value = decimal(portfolio.get("initial_value_usd", 0), _VALUE_PLACES, MAX_VALUE_USD)
    assert value is not None  # checked
    is_active = portfolio.get("is_active", True)
    created = instant(portfolio["created_at"])
    return {
        "portfolio_id": portfolio_id_of(user_id, portfolio),
        "user_id": user_id,
        "name": portfolio["name"],
        "description": portfolio.get("description"),
        "target_allocations": {asset: float(weight) for asset, weight in portfolio["target_allocations"].items()},
        "risk_tolerance": portfolio.get("risk_tolerance", DEFAULT_RISK_TOLERANCE),
        "is_active": is_active,
        "is_default": portfolio.get("is_default", False),
        "tags": portfolio.get("tags", []),
        "initial_value_usd": text(money(value)),
        "status": portfolio.get("status", "active" if is_active else "paused"),
        "created_at": created,
        "updated_at": instant(portfolio["updated_at"]) if "updated_at" in portfolio else created,
        "last_rebalanced_at": None,
    }
