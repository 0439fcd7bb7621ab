"""Bitpanda's resolvers: `user`, `portfolio(startDate, endDate, timePeriod)` and `Amount.in(currency)`.

A portfolio series is a grid of hours anchored at endDate (or the sandbox clock), newest
first, at most MAX_ITEMS periods, and at most MAX_POINTS balances over a whole request.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from ...graphql import FieldError
from ...sandbox.world import World
from .errors import BAD_ARGUMENTS
from .holdings import DATA_START_HOUR, FIAT, instant_ns, nearest_hour, ns_text, parse_instant_ns, plain, rate_text, value_in
from .objects import Money, Point, Viewer

MAX_ITEMS = 200  # periods of one series
MAX_POINTS = 1_000  # portfolio balances in one request, over every `portfolio` field (aliases)
STEP_HOURS = {"HOURLY": 1, "DAILY": 24, "WEEKLY": 7 * 24, "MONTHLY": 30 * 24}
_SHOWN = 40  # characters of a rejected argument quoted back


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
        end_ns = instant_ns(world.now())  # a series without endDate ends at the sandbox clock
        if end_ns < start_ns:
            problems.append(f"startDate {ns_text(start_ns)} is after the latest available time {ns_text(end_ns)}")
    elif start_ns is not None and end_ns is not None and end_ns < start_ns:
        problems.append(f"endDate {ns_text(end_ns)} is before startDate {ns_text(start_ns)}")
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
    ns = parse_instant_ns(text)
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
    value = value_in(viewer.world, money.holdings, code, money.hour)
    return Money(plain(value), code, rate_text(money.hour, viewer.seed), money.holdings, money.hour)
