"""Handlers of the portfolio routes: health, list, create, get, update, delete and analytics.

Portfolios are scoped by the `user_id` query parameter, as the document has them: a
portfolio of another user is "not found". Names are unique per user (case-insensitively),
one portfolio per user is the default, and a user holds at most `max_portfolios_per_user`.
The stored document and the shown view are `portfolios`' business.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ...vocabulary import Call, Reply, json_reply
from . import clock, portfolios
from .errors import detail
from .ledger import SUPPORTED_ASSETS, iso
from .own_settings import MAX_PORTFOLIOS
from .performance import summarize
from .rules import initial_value
from .valuation import ZERO, money, price, quantity_text, sample_instants, series, text

SEQUENCE = "sequence"
REBALANCE_THRESHOLD = 0.05


def health(call: Call) -> Reply:
    return json_reply(200, {"status": "healthy", "service": "portfolio", "timestamp": iso(clock.now(call))})


def _owned_raw(call: Call, portfolio_id: str, user_id: str | None) -> bytes | None:
    """The stored portfolio (its JSON bytes) when it exists and, with `user_id`, belongs to that user."""
    raw = call.state.get_raw(portfolios.KIND, portfolio_id)
    if raw is None or (user_id is not None and portfolios.stored(call.world, raw).user_id != user_id):
        return None
    return raw


def _owned(call: Call, portfolio_id: str, user_id: str | None) -> dict[str, Any] | None:
    raw = _owned_raw(call, portfolio_id, user_id)
    return portfolios.load(call.world, raw) if raw is not None else None


def _name_taken(call: Call, user_id: str, name: str, portfolio_id: str | None = None) -> Reply | None:
    folded = name.casefold()
    for doc in call.state.find(portfolios.KIND, owner=user_id):
        if doc["name"].casefold() == folded and doc["portfolio_id"] != portfolio_id:
            return detail(409, f"A portfolio named {name!r} already exists for this user")
    return None


def list_portfolios(call: Call) -> Reply:
    query = call.params["query"]
    active_only, limit, offset = query.get("active_only", True), query.get("limit", 50), query.get("offset", 0)
    now = clock.now(call)
    raws = call.state.find_raw(portfolios.KIND, owner=query["user_id"])
    shown = [raw for raw in raws if not active_only or portfolios.stored(call.world, raw).is_active]
    page = b",".join(portfolios.view_json(call.world, raw, now) for raw in shown[offset : offset + limit])
    return Reply(200, b"[" + page + b"]", headers={"X-Total-Count": str(len(shown))})


def create_portfolio(call: Call) -> Reply:
    user_id = call.params["query"]["user_id"]
    body: dict[str, Any] = call.body
    targets = body["target_allocations"]
    initial = initial_value(body.get("initial_value_usd", "0"))  # new_portfolio_rule let it through
    now, seed = clock.now(call), call.world.seed
    with call.state.transaction():
        taken = _name_taken(call, user_id, body["name"])
        if taken is not None:
            return taken
        most = call.settings[MAX_PORTFOLIOS]
        if call.state.count(portfolios.KIND, owner=user_id) >= most:
            return detail(409, f"A user may have at most {most} portfolios; delete one first")
        counter = call.state.get(SEQUENCE, user_id) or {"next": 1}
        portfolio_id = portfolios.new_portfolio_id(seed, user_id, counter["next"])
        call.state.put(SEQUENCE, user_id, {"next": counter["next"] + 1}, owner=user_id)
        positions = portfolios.fund(call.world, money(initial), targets, now)
        doc = {
            "portfolio_id": portfolio_id,
            "user_id": user_id,
            "name": body["name"],
            "description": body.get("description"),
            "target_allocations": targets,
            "risk_tolerance": body.get("risk_tolerance", portfolios.DEFAULT_RISK_TOLERANCE),
            "is_active": body.get("is_active", True),
            "is_default": body.get("is_default", False),
            "tags": body.get("tags") or [],
            "initial_value_usd": text(money(initial)),
            "status": "created",
            "created_at": iso(now),
            "updated_at": iso(now),
            "last_rebalanced_at": None,
            "positions": positions,
            "position_history": [{"at": iso(now), "positions": positions}],
        }
        if doc["is_default"]:
            _demote_default(call, user_id, now)
        call.state.put(portfolios.KIND, portfolio_id, doc, owner=user_id)
    return json_reply(201, portfolios.view(call.world, doc, now))


def _demote_default(call: Call, user_id: str, now: datetime) -> None:
    """A new default portfolio takes the flag from the user's previous one."""
    for other in call.state.find(portfolios.KIND, owner=user_id):
        if other["is_default"]:
            other["is_default"] = False
            other["updated_at"] = iso(now)
            call.state.put(portfolios.KIND, other["portfolio_id"], other, owner=user_id)


def get_portfolio(call: Call) -> Reply:
    raw = _owned_raw(call, call.params["path"]["portfolio_id"], call.params["query"].get("user_id"))
    if raw is None:
        return detail(404, "Portfolio not found")
    return Reply(200, portfolios.view_json(call.world, raw, clock.now(call)))


def update_portfolio(call: Call) -> Reply:
    user_id = call.params["query"]["user_id"]
    changes = {name: value for name, value in (call.body or {}).items() if value is not None and name in _UPDATABLE}
    now = clock.now(call)
    with call.state.transaction():
        doc = _owned(call, call.params["path"]["portfolio_id"], user_id)
        if doc is None:
            return detail(404, "Portfolio not found")
        if "name" in changes:
            taken = _name_taken(call, user_id, changes["name"], doc["portfolio_id"])
            if taken is not None:
                return taken
        changed = {name: value for name, value in changes.items() if doc.get(name) != value}
        if changed:
            doc.update(changed)
            if "is_active" in changed:
                doc["status"] = "active" if doc["is_active"] else "paused"
            if "target_allocations" in changed and doc["is_active"] and portfolios.holds_assets(doc):
                portfolios.rebalance(call.world, doc, now)
                doc["status"] = "active"
            doc["updated_at"] = iso(now)
            call.state.put(portfolios.KIND, doc["portfolio_id"], doc, owner=user_id)
    return json_reply(200, portfolios.view(call.world, doc, now))


_UPDATABLE = ("name", "description", "target_allocations", "risk_tolerance", "is_active", "tags")


def delete_portfolio(call: Call) -> Reply:
    query = call.params["query"]
    with call.state.transaction():
        doc = _owned(call, call.params["path"]["portfolio_id"], query["user_id"])
        if doc is None:
            return detail(404, "Portfolio not found")
        held = [asset for asset, quantity in doc.get("positions", {}).items() if Decimal(quantity) > 0]
        if held and not query.get("force", False):
            return detail(409, f"Portfolio still holds assets ({', '.join(held)}); pass force=true to delete it anyway")
        call.state.delete(portfolios.KIND, doc["portfolio_id"])
    return Reply(204, b"", "application/json")  # FastAPI's default response class names its type even with no body


def analytics(call: Call) -> Reply:
    doc = _owned(call, call.params["path"]["portfolio_id"], call.params["query"]["user_id"])
    if doc is None:
        return detail(404, "Portfolio not found")
    now, world = clock.now(call), call.world
    shown = portfolios.view(world, doc, now)
    values = portfolios.value_now(world, doc, now)
    current = shown["current_allocations"]
    targets = doc["target_allocations"]
    positions = []
    for asset in current:
        quantity = Decimal(doc["positions"].get(asset, "0"))
        drift = round(current[asset] - float(targets.get(asset, 0.0)), 4)
        positions.append(
            {
                "asset": asset,
                "quantity": quantity_text(quantity),
                "price_usd": text(price(world, asset, now)) if asset in SUPPORTED_ASSETS else "0",
                "value_usd": text(values.get(asset, ZERO)),
                "current_allocation": current[asset],
                "target_allocation": float(targets.get(asset, 0.0)),
                "drift": drift,
            }
        )
    max_drift = max((abs(p["drift"]) for p in positions), default=0.0)
    timeline = portfolios.timeline(doc)
    month = summarize([value for _, value in series(world, timeline, sample_instants("1M", now, timeline.inception))])
    body = {
        "portfolio_id": doc["portfolio_id"],
        "user_id": doc["user_id"],
        "as_of": iso(now),
        "total_value_usd": shown["total_value_usd"],
        "initial_value_usd": doc["initial_value_usd"],
        "total_return": shown["total_return"],
        "total_return_percentage": shown["total_return_percentage"],
        "risk_tolerance": doc["risk_tolerance"],
        "positions": positions,
        "max_drift": max_drift,
        "rebalance_threshold": REBALANCE_THRESHOLD,
        "needs_rebalance": max_drift > REBALANCE_THRESHOLD,
        "performance_30d": {
            "starting_value": text(month.starting_value),
            "ending_value": text(month.ending_value),
            "percentage_change": text(month.percentage_change),
            "max_drawdown": text(month.max_drawdown),
            "volatility": text(month.volatility),
            "total_data_points": month.total_data_points,
        },
    }
    return json_reply(200, body)
