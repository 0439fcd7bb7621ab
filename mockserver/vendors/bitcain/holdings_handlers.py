"""Handlers of what the token user holds: balances per exchange, the aggregate, cost basis and lots.

Everything here derives from the user's ledger (`user_ledger.Ledger`) valued with the
shared price history; only `rebuild_lots` writes (it stores the ledger with its lots).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ...sandbox.accounts import identity_rng
from ...sandbox.shares import apportion
from ...vocabulary import Call, Reply, json_reply
from .ledger import EXCHANGES, SUPPORTED_ASSETS, iso
from .user_ledger import Ledger
from .valuation import ZERO, Position, money, percent_text, price, quantity_text, text, total, units


def _ordered(positions: Sequence[Position] | Mapping[Position, Any]) -> list[Position]:
    order = {asset: index for index, asset in enumerate(SUPPORTED_ASSETS)}
    return sorted(positions, key=lambda p: (order.get(p[0], len(order)), p[0], EXCHANGES.index(p[1]) if p[1] in EXCHANGES else 9))


def _locked(seed: int, user: str, exchange: str, asset: str, quantity: Decimal) -> Decimal:
    """Part of a balance held by an open order: about one balance in four has one."""
    rng = identity_rng(seed, "bitcain-open-orders", f"{user}|{exchange}|{asset}")
    if rng.random() >= 0.25:
        return ZERO
    return units(quantity * Decimal(rng.randint(5, 30)) / 100)


def balances(call: Call) -> Reply:
    exchange = call.params["query"].get("exchange", "binanceus")  # a supported one (rules.exchange_rule)
    ledger = Ledger(call)
    held = ledger.book.holdings()
    values = ledger.values()
    rows = []
    for asset, venue in _ordered([p for p in held if p[1] == exchange and held[p] > 0]):
        quantity = held[(asset, venue)]
        locked = _locked(ledger.world.seed, ledger.user, venue, asset, quantity)
        rows.append(
            {
                "asset": asset,
                "free": quantity_text(quantity - locked),
                "locked": quantity_text(locked),
                "total": quantity_text(quantity),
                "price_usd": text(price(ledger.world, asset, ledger.now)),
                "value_usd": text(values[(asset, venue)]),
            }
        )
    body = {
        "exchange": exchange,
        "user_id": ledger.user,
        "balances": rows,
        "total_value_usd": text(total(values[(row["asset"], exchange)] for row in rows)),
        "as_of": iso(ledger.now),
    }
    return json_reply(200, body)


def _asset_values(values: Mapping[Position, Decimal]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for (asset, _), value in values.items():
        found[asset] = found.get(asset, ZERO) + value
    return found


def aggregate(call: Call) -> Reply:
    ledger = Ledger(call)
    held = ledger.book.holdings()
    values = ledger.values()
    by_asset = _asset_values(values)
    worth = total(values.values())
    assets = list(dict.fromkeys(asset for asset, _ in _ordered(values)))
    shares = apportion(10_000, [int(by_asset[asset] * 100) for asset in assets])
    rows = [
        {
            "asset": asset,
            "quantity": quantity_text(sum((held[p] for p in values if p[0] == asset), ZERO)),
            "price_usd": text(price(ledger.world, asset, ledger.now)),
            "value_usd": text(by_asset[asset]),
            "allocation": share / 10_000,
            "exchanges": {venue: quantity_text(held[(a, venue)]) for a, venue in _ordered(values) if a == asset},
        }
        for asset, share in zip(assets, shares, strict=True)
    ]
    exchanges = [
        {
            "exchange": exchange,
            "value_usd": text(total(v for p, v in values.items() if p[1] == exchange)),
            "asset_count": sum(1 for p in values if p[1] == exchange),
        }
        for exchange in EXCHANGES
    ]
    body = {
        "user_id": ledger.user,
        "total_value_usd": text(worth),
        "asset_count": len(rows),
        "assets": rows,
        "exchanges": exchanges,
        "last_refreshed_at": (ledger.doc or {}).get("refreshed_at"),
        "as_of": iso(ledger.now),
    }
    return json_reply(200, body)


def cost_basis(call: Call) -> Reply:
    ledger = Ledger(call)
    by_asset = _asset_values(ledger.values())
    realized = ledger.book.realized_usd
    rows = []
    for asset in dict.fromkeys([*(lot.asset for lot in ledger.book.open_lots), *realized]):
        lots = [lot for lot in ledger.book.open_lots if lot.asset == asset]
        quantity = sum((lot.remaining for lot in lots), ZERO)
        cost = total(money(lot.remaining_cost) for lot in lots)
        market = by_asset.get(asset, ZERO)
        rows.append(
            {
                "asset": asset,
                "quantity": quantity_text(quantity),
                "cost_basis_usd": text(cost),
                "average_cost_usd": text((cost / quantity).quantize(Decimal("0.00000001"))) if quantity else "0",
                "market_value_usd": text(market),
                "unrealized_pnl_usd": text(market - cost),
                "unrealized_pnl_percentage": percent_text(market - cost, cost),
                "realized_pnl_usd": text(money(realized.get(asset, ZERO))),
                "lot_count": len(lots),
            }
        )
    rows.sort(key=lambda row: SUPPORTED_ASSETS.index(row["asset"]) if row["asset"] in SUPPORTED_ASSETS else 99)
    cost_total = total(Decimal(row["cost_basis_usd"]) for row in rows)
    market_total = total(Decimal(row["market_value_usd"]) for row in rows)
    body = {
        "user_id": ledger.user,
        "method": "FIFO",
        "currency": "USD",
        "assets": rows,
        "total_cost_basis_usd": text(cost_total),
        "total_market_value_usd": text(market_total),
        "total_unrealized_pnl_usd": text(market_total - cost_total),
        "total_unrealized_pnl_percentage": percent_text(market_total - cost_total, cost_total),
        "total_realized_pnl_usd": text(total(Decimal(row["realized_pnl_usd"]) for row in rows)),
        "as_of": iso(ledger.now),
    }
    return json_reply(200, body)


def _lot_view(lot: Any) -> dict[str, Any]:
    return {
        "lot_id": lot.lot_id,
        "asset": lot.asset,
        "exchange": lot.exchange,
        "acquired_at": iso(lot.acquired_at),
        "quantity": quantity_text(lot.quantity),
        "remaining_quantity": quantity_text(lot.remaining),
        "unit_cost_usd": text(lot.unit_cost.quantize(Decimal("0.00000001"))),
        "cost_basis_usd": text(money(lot.remaining_cost)),
        "source": lot.source,
    }


def lots(call: Call) -> Reply:
    ledger = Ledger(call)
    rows = [_lot_view(lot) for lot in ledger.book.open_lots]
    body = {
        "user_id": ledger.user,
        "method": "FIFO",
        "lots": rows,
        "count": len(rows),
        "total_cost_basis_usd": text(total(Decimal(row["cost_basis_usd"]) for row in rows)),
        "rebuilt_at": (ledger.doc or {}).get("rebuilt_at"),
    }
    return json_reply(200, body)


def rebuild_lots(call: Call) -> Reply:
    with call.state.transaction():
        ledger = Ledger(call)
        before = (ledger.doc or {}).get("lots")
        ledger.save(ledger.entries, rebuilt_at=iso(ledger.now))
        after = ledger.doc["lots"] if ledger.doc else []
    body = {
        "status": "completed",
        "user_id": ledger.user,
        "method": "FIFO",
        "entries_processed": sum(1 for entry in ledger.entries if entry.at <= ledger.now),
        "lots_before": len(before) if before is not None else None,
        "lots_after": len(after),
        "open_lots": len(ledger.book.open_lots),
        "changed": before != after,
        "unmatched": [{"entry_id": entry_id, "quantity": quantity_text(quantity)} for entry_id, quantity in ledger.book.shortfalls],
        "rebuilt_at": iso(ledger.now),
    }
    return json_reply(200, body)
