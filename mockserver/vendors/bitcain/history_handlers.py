"""Handlers of value over time: the ledger's daily value history, and the history, performance and
export of the ledger or of one of the user's portfolios.

A series is the holdings' value at the instants of a timeframe (see `valuation`), priced
with the shared price history; performance figures are `performance.summarize`'s. The
export answers CSV when the Accept header prefers it, JSON otherwise.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...vocabulary import Call, Reply, json_reply
from . import clock, portfolios
from .errors import detail
from .ledger import iso
from .performance import summarize
from .user_ledger import Ledger, user_of
from .valuation import ZERO, Timeline, daily_instants, percent_text, sample_instants, series, text


def value_history(call: Call) -> Reply:
    days = call.params["query"].get("days", 30)
    ledger = Ledger(call)
    timeline = ledger.book.timeline
    points = series(ledger.world, timeline, daily_instants(days, ledger.now, timeline.inception))
    start = points[0][1] if points else ZERO
    end = points[-1][1] if points else ZERO
    body = {
        "user_id": ledger.user,
        "days": days,
        "currency": "USD",
        "points": [{"date": at.date().isoformat(), "recorded_at": iso(at), "value_usd": text(value)} for at, value in points],
        "start_value_usd": text(start),
        "end_value_usd": text(end),
        "change_usd": text(end - start),
        "change_percentage": percent_text(end - start, start),
    }
    return json_reply(200, body)


def _history(call: Call) -> tuple[str, str | None, list[tuple[datetime, Decimal]], str] | Reply:
    """(user, portfolio id, points, timeframe) for the history routes, or an error reply."""
    query = call.params["query"]
    timeframe, portfolio_id = query.get("timeframe", "1M"), query.get("portfolio_id")  # the currency: rules.currency_rule
    user = user_of(call.identity)
    now = clock.now(call)
    timeline: Timeline
    if portfolio_id is not None:
        raw = call.state.get_raw(portfolios.KIND, portfolio_id)
        if raw is None or portfolios.stored(call.world, raw).user_id != user:
            return detail(404, "Portfolio not found")
        timeline = portfolios.timeline(portfolios.load(call.world, raw))
    else:
        timeline = Ledger(call).book.timeline
    points = series(call.world, timeline, sample_instants(timeframe, now, timeline.inception))
    return user, portfolio_id, points, timeframe


def _history_items(
    user: str, portfolio_id: str | None, points: list[tuple[datetime, Decimal]], timeframe: str, seed: int
) -> list[dict[str, Any]]:
    return [
        {
            "id": portfolios.stable_uuid(seed, "bitcain-history", user, portfolio_id, iso(at)),
            "user_id": user,
            "portfolio_id": portfolio_id,
            "total_value": text(value),
            "currency": "USD",
            "recorded_at": iso(at),
            "created_at": iso(at),
            "metadata": {"source": "price_history", "timeframe": timeframe},
        }
        for at, value in points
    ]


def history(call: Call) -> Reply:
    found = _history(call)
    if isinstance(found, Reply):
        return found
    return json_reply(200, _history_items(*found, call.world.seed))


def performance(call: Call) -> Reply:
    found = _history(call)
    if isinstance(found, Reply):
        return found
    _, _, points, timeframe = found
    figures = summarize([value for _, value in points])
    now = iso(clock.now(call))
    body = {
        "period_start": iso(points[0][0]) if points else now,
        "period_end": iso(points[-1][0]) if points else now,
        "timeframe": timeframe,
        "starting_value": text(figures.starting_value),
        "ending_value": text(figures.ending_value),
        "current_value": text(figures.ending_value),
        "highest_value": text(figures.highest_value),
        "lowest_value": text(figures.lowest_value),
        "absolute_change": text(figures.absolute_change),
        "absolute_gain": text(figures.absolute_change),
        "percentage_change": text(figures.percentage_change),
        "percentage_gain": text(figures.percentage_change),
        "is_profitable": figures.is_profitable,
        "return_rate": text(figures.return_rate),
        "max_drawdown": text(figures.max_drawdown),
        "volatility": text(figures.volatility),
        "total_data_points": figures.total_data_points,
        "currency": "USD",
    }
    return json_reply(200, body)


def wants_csv(accept: str | None) -> bool:
    """Whether the Accept header prefers text/csv to JSON (ties go to the one listed first)."""
    best: tuple[float, int, str] | None = None
    for index, media_range in enumerate((accept or "").split(",")):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type not in ("text/csv", "application/json", "*/*", "application/*", "text/*"):
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 1.0
        kind = "csv" if media_type in ("text/csv", "text/*") else "json"
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, index, kind)
    return best is not None and best[2] == "csv"


def export(call: Call) -> Reply:
    found = _history(call)
    if isinstance(found, Reply):
        return found
    items = _history_items(*found, call.world.seed)
    if not wants_csv(call.params["header"].get("Accept")):
        return json_reply(200, items)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "recorded_at", "total_value", "currency", "portfolio_id"])
    for item in items:
        writer.writerow([item["id"], item["recorded_at"], item["total_value"], item["currency"], item["portfolio_id"] or ""])
    disposition = f'attachment; filename="portfolio-history-{found[3]}.csv"'
    return Reply(200, out.getvalue().encode(), "text/csv; charset=utf-8", {"Content-Disposition": disposition})
