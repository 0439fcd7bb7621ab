"""Treasure businesses shaped at run time (a scenario's `treasure` member): a business, its client,
its opening date, its products over time and the contributions made to it.

    {"businesses": [{"business_id": "urn:uuid:0c6e2f4a-5b7d-4e8f-9a1b-2c3d4e5f6a7b",
                     "client_id": "mock-treasure-client",
                     "opening_date": "2023-01-01",
                     "allocations": [
                         {"date": "2023-01-01", "products": [{"product": "managed_treasuries", "percentage": 60},
                                                             {"product": "managed_income", "percentage": 40}]},
                         {"date": "2024-01-01", "products": [{"product": "managed_money_market", "percentage": 100}]}],
                     "contributions": [{"date": "2023-01-01", "amount": 100000},
                                       {"date": "2023-04-01", "amount": 25000.50},
                                       {"date": "2023-09-01", "amount": -10000}]}]}

The portfolio opens on `opening_date` (the 1st of a month, the first snapshot) with the contribution
of that date, split by the allocation of that date. Every month its products grow by the returns
every business shares (model.py); a contribution is added on its date (a deposit split by the
allocation then in force, a withdrawal taken from each product in proportion to what it holds, at
most all of it), and an allocation rebalances the whole portfolio on its date. Dates are the 1st
of a month, as the snapshots are; amounts are in the portfolio's currency with at most two
decimals, percentages (0 to 100, at most two decimals) add up to 100. Nothing else comes and goes:
the history is exactly what these make of the shared returns, in cents that add up.

`client_id` is the OAuth client that sees the business, besides what each client sees already
(without it, every client sees it). `portfolio_id` is optional (by default one derived from the
seed and the business id). A business a scenario names answers its scenario's history, a
well-known or configured one included; any other keeps its generated history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from .. import documents_scenario, each_item_problems, listed, unknown_members
from .model import PRODUCTS, Profile, Weights, month_index, portfolio_id_of

BUSINESS = "scenario-business"
MAX_BUSINESSES, MAX_CHANGES = 1000, 600  # businesses at once; allocations, and contributions, of one business
MAX_TEXT = 200
MAX_AMOUNT = 10_000_000_000  # one contribution, in the portfolio's currency
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 1)
BUSINESS_ID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")  # the path's pattern
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BUSINESS_MEMBERS = {"business_id", "client_id", "portfolio_id", "opening_date", "allocations", "contributions"}
_FIRST_OF_A_MONTH = f"the 1st of a month, YYYY-MM-01, from {FIRST_DAY} to {LAST_DAY}"

ItemProblems = Callable[[dict[str, Any], str], list[str]]


def check(payload: Any) -> list[str]:
    businesses, problems = listed(payload, "treasure", "businesses", MAX_BUSINESSES)
    seen: set[str] = set()
    problems.extend(each_item_problems(businesses, "treasure.businesses", _business_problems, seen))
    return problems


def _business_problems(business: Any, where: str, seen: set[str]) -> list[str]:
    if not isinstance(business, dict):
        return [f"{where}: a business is an object"]
    problems = unknown_members(business, _BUSINESS_MEMBERS, where)
    business_id = business.get("business_id")
    if not isinstance(business_id, str) or not BUSINESS_ID.fullmatch(business_id):
        problems.append(f"{where}.business_id: a UUID URN, urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    elif business_id.lower() in seen:
        problems.append(f"{where}.business_id: {business_id} is listed twice")
    else:
        seen.add(business_id.lower())
    for name in ("client_id", "portfolio_id"):
        if name in business and not (isinstance(business[name], str) and 1 <= len(business[name]) <= MAX_TEXT):
            problems.append(f"{where}.{name}: a string of 1 to {MAX_TEXT} characters")
    opening = _first_of_a_month(business.get("opening_date"))
    if opening is None:
        problems.append(f"{where}.opening_date: {_FIRST_OF_A_MONTH}")
    problems.extend(_dated_problems(business, "allocations", where, opening, _allocation_problems))
    contributions = _dated_problems(business, "contributions", where, opening, _contribution_problems)
    if not contributions and opening is not None and _opening_contribution(business, opening) <= 0:
        contributions.append(f"{where}.contributions: the one on the opening_date {opening} opens the portfolio, a deposit above 0")
    return problems + contributions


def _dated_problems(business: dict[str, Any], name: str, where: str, opening: date | None, item_problems: ItemProblems) -> list[str]:
    """A list of dated entries: each sound, one per date, none before the opening and one on it."""
    items = business.get(name)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CHANGES:
        return [f"{where}.{name}: a list of 1 to {MAX_CHANGES} entries, one on the opening_date"]
    problems: list[str] = []
    dates: set[date] = set()
    for index, item in enumerate(items):
        at = f"{where}.{name}[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{at}: an object")
            continue
        problems.extend(item_problems(item, at))
        day = _first_of_a_month(item.get("date"))
        if day is None:
            problems.append(f"{at}.date: {_FIRST_OF_A_MONTH}")
        elif day in dates:
            problems.append(f"{at}.date: {day} is given twice")
        else:
            if opening is not None and day < opening:
                problems.append(f"{at}.date: {day} is before the opening_date {opening}")
            dates.add(day)
    if opening is not None and not problems and opening not in dates:
        problems.append(f"{where}.{name}: none is dated the opening_date {opening}")
    return problems


def _allocation_problems(allocation: dict[str, Any], where: str) -> list[str]:
    problems = unknown_members(allocation, {"date", "products"}, where)
    products = allocation.get("products")
    if not isinstance(products, list) or not 1 <= len(products) <= len(PRODUCTS):
        return [*problems, f"{where}.products: a list of 1 to {len(PRODUCTS)} products"]
    return problems + _products_problems(products, f"{where}.products")


def _products_problems(products: list[Any], where: str) -> list[str]:
    """Each product once, at a percentage above 0; the percentages add up to 100."""
    problems: list[str] = []
    named: set[str] = set()
    shares: list[int] = []
    for index, held in enumerate(products):
        at = f"{where}[{index}]"
        if not isinstance(held, dict):
            problems.append(f"{at}: an object")
            continue
        problems.extend(unknown_members(held, {"product", "percentage"}, at))
        product = held.get("product")
        if product not in PRODUCTS:
            problems.append(f"{at}.product: one of {', '.join(PRODUCTS)}")
        elif product in named:
            problems.append(f"{at}.product: {product} is listed twice")
        else:
            named.add(product)
        share = _hundredths(held.get("percentage"), 100)
        if share is None or share <= 0:
            problems.append(f"{at}.percentage: a number above 0, at most 100, with at most two decimals")
        else:
            shares.append(share)
    if not problems and sum(shares) != 100_00:
        problems.append(f"{where}: the percentages add up to {Decimal(sum(shares)) / 100}, not 100")
    return problems


def _contribution_problems(contribution: dict[str, Any], where: str) -> list[str]:
    problems = unknown_members(contribution, {"date", "amount"}, where)
    cents = _hundredths(contribution.get("amount"), MAX_AMOUNT)
    if not cents:
        problems.append(f"{where}.amount: a deposit (above 0) or withdrawal (below 0) of at most {MAX_AMOUNT:,} with at most two decimals")
    return problems


def _first_of_a_month(value: Any) -> date | None:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if day.day == 1 and FIRST_DAY <= day <= LAST_DAY else None


def _hundredths(value: Any, bound: int) -> int | None:
    """A number of at most `bound` in magnitude with at most two decimals, in hundredths (None: it is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= bound:  # NaN is never <=
        return None
    exact = Decimal(str(value))  # as written: 0.1 is one tenth, not the binary float nearest it
    exponent = exact.as_tuple().exponent
    return int(exact * 100) if isinstance(exponent, int) and exponent >= -2 else None


def _opening_contribution(business: dict[str, Any], opening: date) -> int:
    return next(_cents(item) for item in business["contributions"] if _first_of_a_month(item["date"]) == opening)


def _cents(contribution: dict[str, Any]) -> int:
    return _checked_hundredths(contribution["amount"], MAX_AMOUNT)


def _checked_hundredths(value: Any, bound: int) -> int:
    hundredths = _hundredths(value, bound)
    assert hundredths is not None  # `check` passed the scenario
    return hundredths


def client_of(business: dict[str, Any]) -> str | None:
    """The client that sees a scenario's business (None: every client)."""
    return business.get("client_id")


def profile_of(business: dict[str, Any], seed: int) -> Profile:
    """What decides a scenario business's history (its document is sound: `check`)."""
    business_id = business["business_id"].lower()
    opened = _month(business["opening_date"])
    flows = sorted((_month(item["date"]), _cents(item)) for item in business["contributions"])
    allocations = sorted((_month(item["date"]), _weights(item["products"])) for item in business["allocations"])
    opening_cents = flows.pop(0)[1]  # the opening date is the first
    portfolio_id = business.get("portfolio_id") or portfolio_id_of(seed, business_id)
    return Profile(business_id, portfolio_id, opened, opening_cents, tuple(allocations), tuple(flows))


def _month(day: str) -> int:
    return month_index(date.fromisoformat(day))


def _weights(products: list[dict[str, Any]]) -> Weights:
    """Percentages in hundredths, in PRODUCTS order."""
    shares = {held["product"]: _checked_hundredths(held["percentage"], 100) for held in products}
    return tuple(shares.get(product, 0) for product in PRODUCTS)


SCENARIO = documents_scenario(check, "businesses", BUSINESS, lambda business: business["business_id"].lower())
