"""Bitpanda Custody (formerly TrustVault): the user portfolio GraphQL API, AppSync style.

Authentication is AppSync's API key: the `x-api-key` header, compared in constant time with
every configured key (`credentials.bitpanda`: a list of `{"x-api-key": ..., "name": ...,
"forbidden": false}`; default: the sandbox key `mock-api-key`). Every key is its own user,
whose holdings follow from (seed, "bitpanda", key) alone (holdings.py), so answers
are the same across restarts and need no stored state. Errors have AppSync's shape:
`errorType` and `message`, plus `path`, `locations`, `data` and `errorInfo` for errors
that come from the GraphQL document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo

from ...errors import LoadError
from ...graphql import (
    BAD_REQUEST,
    BAD_VARIABLES,
    FORBIDDEN,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OPERATION_UNKNOWN,
    PARSE_FAILED,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    UNAUTHENTICATED,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_FAILED,
    Fault,
    FieldError,
    GraphQLRequest,
    GraphQLSetup,
    GraphQLVendor,
    Refusal,
)
from ...sandbox.world import World
from ...security import CONFIGURED, Identity, identity_with
from . import holdings as custody
from .holdings import DATA_START_HOUR, FIAT, Holdings, hour_text, nearest_hour, plain, rate_text, value_in

API = "bitpanda"
HEADER = "x-api-key"
SANDBOX_KEY = "mock-api-key"
MISSING_KEY = "Valid authorization header not provided."
UNKNOWN_KEY = "You are not authorized to make this call."
TOTAL_CURRENCY = "GBP"
MAX_ITEMS = 200  # periods of one series
MAX_POINTS = 1_000  # portfolio balances in one request, over every `portfolio` field (aliases)
STEP_HOURS = {"HOURLY": 1, "DAILY": 24, "WEEKLY": 7 * 24, "MONTHLY": 30 * 24}
BAD_ARGUMENTS = "BadRequestException"
APPSYNC_TYPES = {
    BAD_REQUEST: "MalformedHttpRequestException",
    UNSUPPORTED_MEDIA_TYPE: "MalformedHttpRequestException",
    PAYLOAD_TOO_LARGE: "MalformedHttpRequestException",
    METHOD_NOT_ALLOWED: "MethodNotAllowedException",
    NOT_FOUND: "NotFoundException",
    PARSE_FAILED: "InvalidSyntax",
    VALIDATION_FAILED: "ValidationError",
    OPERATION_UNKNOWN: "ValidationError",
    BAD_VARIABLES: "ValidationError",
    INTERNAL: "InternalFailure",
    UNAUTHENTICATED: "UnauthorizedException",
    FORBIDDEN: "UnauthorizedException",
    RATE_LIMITED: "LimitExceededException",
}
_SHOWN = 40  # characters of a rejected argument quoted back


def appsync_error(fault: Fault) -> dict[str, Any]:
    """AppSync's error entry: `errorType` and `message`; with `path`, `data`, `errorInfo` and
    `locations` (each with `sourceName`) when the error comes from the GraphQL document."""
    error_type = APPSYNC_TYPES.get(fault.code, fault.code)
    if not fault.graphql:
        return {"errorType": error_type, "message": fault.message}
    return {
        "path": list(fault.path) if fault.path is not None else None,
        "data": None,
        "errorType": error_type,
        "errorInfo": None,
        "locations": [{"line": line, "column": column, "sourceName": None} for line, column in fault.locations or ()],
        "message": fault.message,
    }


# --- identities -------------------------------------------------------------------------------


def identities_from(configured: Sequence[Any] | None) -> list[Identity]:
    """The configured keys, or the sandbox key; a configured entry without a key stops start-up."""
    if configured is None:
        return [Identity.from_config({HEADER: SANDBOX_KEY, "name": "sandbox"}, 0)]
    identities = []
    for index, entry in enumerate(configured):
        key = entry.get(HEADER) if isinstance(entry, Mapping) else None
        if not isinstance(key, str) or not key.strip():
            raise LoadError("credentials", f"bitpanda[{index}] needs a non-empty {HEADER!r} string")
        identities.append(Identity.from_config(entry, index))
    return identities


@dataclass(slots=True)
class Viewer:
    """One authenticated request: its user, and what the request has asked for so far."""

    identity: Identity
    holdings: Holdings
    world: World
    points: int = 0
    latest: int | None = field(default=None)

    @property
    def seed(self) -> int:
        return self.world.seed

    def latest_hour(self) -> int:
        """The latest available hour: the sandbox clock rounded to the nearest hour (fixed for the request)."""
        if self.latest is None:
            self.latest = nearest_hour(custody.instant_ns(self.world.now()))
        return self.latest


# --- objects the resolvers return -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Money:
    """An `Amount`: its text fields, and the asset amounts it stands for (for conversions)."""

    value: str
    currency: str
    timestamp: str
    holdings: tuple[tuple[str, Decimal], ...]
    hour: int


@dataclass(frozen=True, slots=True)
class Point:
    """A `Portfolio` at one hour; total and balances are computed only when selected."""

    viewer: Viewer
    hour: int

    @property
    def timestamp(self) -> str:
        return hour_text(self.hour)

    def balances_at(self) -> list[tuple[custody.CustodyAsset, Decimal]]:
        return self.viewer.holdings.at(self.hour)

    def total(self, info: GraphQLResolveInfo) -> Money:
        holdings = tuple((asset.symbol, amount) for asset, amount in self.balances_at())
        value = value_in(holdings, TOTAL_CURRENCY, self.hour, self.viewer.seed)
        return Money(plain(value), TOTAL_CURRENCY, self.timestamp, holdings, self.hour)

    def balances(self, info: GraphQLResolveInfo) -> dict[str, Any]:
        items = []
        for asset, amount in self.balances_at():
            money = Money(plain(amount), asset.symbol, self.timestamp, ((asset.symbol, amount),), self.hour)
            items.append({"asset": _asset(asset), "amount": money, "available": money})
        return {"items": items, "nextToken": None}


def _asset(asset: custody.CustodyAsset) -> dict[str, Any]:
    return {
        "symbol": asset.symbol,
        "displaySymbol": asset.display_symbol,
        "name": asset.name,
        "chain": asset.chain,
        "decimalPlace": asset.decimal_place,
    }


# --- resolvers --------------------------------------------------------------------------------


def resolve_user(root: Any, info: GraphQLResolveInfo) -> Viewer:
    viewer: Viewer = info.context
    if viewer.identity.forbidden:
        raise FieldError("Not Authorized to access user on type Query", "Unauthorized")
    return viewer


def resolve_portfolio(
    viewer: Viewer, info: GraphQLResolveInfo, startDate: str | None = None, endDate: str | None = None, timePeriod: str | None = None
) -> dict[str, Any]:
    hours = portfolio_hours(viewer.latest_hour(), viewer.world, startDate, endDate, timePeriod)
    viewer.points += len(hours)
    if viewer.points > MAX_POINTS:
        raise FieldError(
            f"This request asks for more than {MAX_POINTS} portfolio balances in all; ask for fewer periods or fewer aliases.",
            "LimitExceededException",
        )
    return {"items": [Point(viewer, hour) for hour in hours]}


def portfolio_hours(latest: int, world: World, start: str | None, end: str | None, period: str | None) -> list[int]:
    """The hours `portfolio(startDate, endDate, timePeriod)` answers, newest first (see the SDL)."""
    problems = []
    start_ns = _instant("startDate", start, problems)
    end_ns = _instant("endDate", end, problems)
    if start is not None and period is None:
        problems.append("timePeriod is required with startDate (HOURLY, DAILY, WEEKLY or MONTHLY)")
    if start is None and period is not None:
        problems.append("timePeriod needs startDate: give startDate (and endDate) for a series, or leave timePeriod out")
    if start_ns is not None and end is None and not problems:
        end_ns = custody.instant_ns(world.now())  # a series without endDate ends at the sandbox clock
        if end_ns < start_ns:
            problems.append(f"startDate {custody.ns_text(start_ns)} is after the latest available time {custody.ns_text(end_ns)}")
    elif start_ns is not None and end_ns is not None and end_ns < start_ns:
        problems.append(f"endDate {custody.ns_text(end_ns)} is before startDate {custody.ns_text(start_ns)}")
    if problems:
        raise FieldError("; ".join(problems), BAD_ARGUMENTS)
    if end_ns is None:
        return [latest] if DATA_START_HOUR <= latest else []
    end_hour = nearest_hour(end_ns)
    if start_ns is None:
        return [end_hour] if DATA_START_HOUR <= end_hour <= latest else []
    assert period is not None
    step = STEP_HOURS[period]
    lowest = max(nearest_hour(start_ns), DATA_START_HOUR)
    hour = end_hour
    if hour > latest:  # the grid stays anchored at endDate: its newest hour that is not after the latest
        hour -= (hour - latest + step - 1) // step * step
    hours = []
    while hour >= lowest and len(hours) < MAX_ITEMS:
        hours.append(hour)
        hour -= step
    return hours


def _instant(name: str, text: str | None, problems: list[str]) -> int | None:
    if text is None:
        return None
    ns = custody.parse_instant_ns(text)
    if ns is None:
        shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
        problems.append(f"{name} {shown!r} is not an ISO 8601 date and time, such as 2021-03-01T12:00:00.000Z")
    return ns


def resolve_in(money: Money, info: GraphQLResolveInfo, currency: str) -> Money:
    code = currency.strip().upper()
    if code not in FIAT:
        shown = currency if len(currency) <= _SHOWN else currency[:_SHOWN] + "..."
        raise FieldError(f"Unsupported currency {shown!r}: use one of {', '.join(sorted(FIAT))}", BAD_ARGUMENTS)
    viewer: Viewer = info.context
    value = value_in(money.holdings, code, money.hour, viewer.seed)
    return Money(plain(value), code, rate_text(money.hour, viewer.seed), money.holdings, money.hour)


# --- the vendor -------------------------------------------------------------------------------


def graphql_vendor(setup: GraphQLSetup) -> GraphQLVendor:
    configured = setup.settings.credentials.get(API)
    identities = identities_from(configured)
    holdings = {id(identity): custody.holdings_for(setup.world.seed, API, identity.values[HEADER].decode()) for identity in identities}
    position = {id(identity): index for index, identity in enumerate(identities)}

    def answer_key(viewer: Viewer) -> tuple[int, datetime] | None:
        """Answers are pure functions of the query, the user and the sandbox instant: with a frozen clock,
        the same query of the same user always gets the same answer (a live clock moves on every request)."""
        return (position[id(viewer.identity)], setup.world.frozen) if setup.world.frozen is not None else None

    def authenticate(request: GraphQLRequest) -> Viewer | Refusal:
        key = request.headers.get(HEADER, "")
        if not key.strip():
            return Refusal(401, (Fault("UnauthorizedException", MISSING_KEY),))
        identity = identity_with(identities, HEADER, key.encode("utf-8", "surrogateescape"))
        if identity is None:
            return Refusal(401, (Fault("UnauthorizedException", UNKNOWN_KEY),))
        return Viewer(identity, holdings[id(identity)], setup.world)

    hints, sets = [], []
    for identity in identities:
        shown = CONFIGURED if configured is not None else identity.values[HEADER].decode()
        hints.append(f"{HEADER}: {shown}" + ("  (forbidden: user is null, Unauthorized)" if identity.forbidden else ""))
        sets.append(
            {
                "identity": identity.name,
                "forbidden": identity.forbidden,
                "headers": {HEADER: shown},
                "query": {},
                "cookies": {},
                "values": {HEADER: shown},
            }
        )
    return GraphQLVendor(
        resolvers={"Query": {"user": resolve_user}, "User": {"portfolio": resolve_portfolio}, "Amount": {"in": resolve_in}},
        authenticate=authenticate,
        format_error=appsync_error,
        credential_hints=hints,
        credential_sets=sets,
        identities=identities,
        credential_fields=frozenset({HEADER}),
        answer_key=answer_key,
    )
