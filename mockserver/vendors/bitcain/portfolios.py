"""Managed portfolios: target allocations, positions bought with the initial value, and their value.

A portfolio document in the store keeps what the service decided (targets, positions,
timestamps); the values shown (total, current allocations, return) are computed when it
is read, from the positions and the shared price history. Funding buys each target
asset with its share of `initial_value_usd` at the price of the moment; a rebalance sells
and buys at the current price so the positions match the targets again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NamedTuple

import orjson

from ...lru import trimmed
from ...sandbox.shares import apportion
from ...sandbox.world import World
from ...seeding import stable_seed
from .ledger import iso, parse_iso
from .valuation import ZERO, Position, Timeline, money, position_values, price, text, total, units

KIND = "portfolio"
VENUE = "portfolio"
ALLOCATION_TOLERANCE = 1e-6
STATUSES = ("created", "active", "rebalancing", "paused", "archived")
RISK_TOLERANCES = ("conservative", "moderate", "aggressive")
DEFAULT_RISK_TOLERANCE = "moderate"
_ALLOCATION_UNITS = 10_000  # current allocations have four decimals and sum to exactly 1


def stable_uuid(*parts: object) -> str:
    """A version-4 shaped UUID that is a stable function of the parts."""
    raw = stable_seed("high", *parts).to_bytes(8, "big") + stable_seed("low", *parts).to_bytes(8, "big")
    return str(uuid.UUID(bytes=raw, version=4))


def new_portfolio_id(seed: int, user_id: str, sequence: int) -> str:
    """The n-th portfolio a user creates gets the same id for the same seed."""
    return stable_uuid(seed, "bitcain-portfolio", user_id, sequence)


def allocation_problems(targets: Mapping[str, float], supported: tuple[str, ...]) -> list[str]:
    """What is wrong with target allocations beyond their schema: each unknown asset, else a sum other than 1."""
    problems = [f"unknown asset {asset!r}; supported: {', '.join(supported)}" for asset in targets if asset not in supported]
    if problems:
        return problems
    whole = sum(targets.values())
    if abs(whole - 1.0) > ALLOCATION_TOLERANCE:
        return [f"target_allocations must sum to 1.0 (got {whole:.6g})"]
    return []


def fund(world: World, value: Decimal, targets: Mapping[str, float], at: datetime) -> dict[str, str]:
    """Positions bought with `value` split by the targets at the prices of `at`."""
    positions = {}
    for asset, weight in targets.items():
        if weight <= 0 or value <= 0:
            continue
        spend = value * Decimal(str(weight))
        positions[asset] = text(units(spend / price(world, asset, at)))
    return positions


def load(world: World, raw: bytes) -> dict[str, Any]:
    """A stored portfolio (its JSON bytes) with its positions. A scenario's is stored without them
    (bitcain's scenario_portfolios): it is bought with its initial value at the prices of its
    `created_at`, as a portfolio created at that instant was."""
    doc: dict[str, Any] = orjson.loads(raw)
    if "positions" not in doc:
        positions = fund(world, Decimal(doc["initial_value_usd"]), doc["target_allocations"], parse_iso(doc["created_at"]))
        doc["positions"] = positions
        doc["position_history"] = [{"at": doc["created_at"], "positions": positions}]
    return doc


def quantities(positions: Mapping[str, str]) -> dict[Position, Decimal]:
    return {(asset, VENUE): Decimal(quantity) for asset, quantity in positions.items()}


def holds_assets(doc: Mapping[str, Any]) -> bool:
    return any(Decimal(quantity) > 0 for quantity in doc.get("positions", {}).values())


def value_now(world: World, doc: Mapping[str, Any], now: datetime) -> dict[str, Decimal]:
    """asset -> value in USD of the portfolio's positions now."""
    return {asset: value for (asset, _), value in position_values(world, quantities(doc.get("positions", {})), now).items()}


def current_allocations(doc: Mapping[str, Any], values: Mapping[str, Decimal]) -> dict[str, float]:
    """Each target and held asset's share of the value, four decimals, summing to exactly 1 when funded."""
    assets = list(dict.fromkeys([*doc.get("target_allocations", {}), *values]))
    shares = apportion(_ALLOCATION_UNITS, [int(values.get(asset, ZERO) * 100) for asset in assets])
    return {asset: share / _ALLOCATION_UNITS for asset, share in zip(assets, shares, strict=True)}


def view(world: World, doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The portfolio as the API shows it."""
    values = value_now(world, doc, now)
    worth = total(values.values())
    initial = Decimal(doc["initial_value_usd"])
    gain = worth - initial
    percentage = (gain / initial * 100).quantize(Decimal("0.01"), ROUND_HALF_EVEN) if initial else Decimal("0.00")
    return {
        "portfolio_id": doc["portfolio_id"],
        "user_id": doc["user_id"],
        "name": doc["name"],
        "description": doc.get("description"),
        "total_value_usd": text(worth),
        "target_allocations": doc["target_allocations"],
        "current_allocations": current_allocations(doc, values),
        "last_rebalanced_at": doc.get("last_rebalanced_at"),
        "is_active": doc["is_active"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "risk_tolerance": doc["risk_tolerance"],
        "status": doc["status"],
        "is_default": doc["is_default"],
        "total_return": text(money(gain)),
        "total_return_percentage": text(percentage),
        "tags": doc.get("tags", []),
    }


class Stored(NamedTuple):
    """What a list or a get decides on before showing a stored portfolio."""

    user_id: str
    is_active: bool


# stored documents by their JSON bytes: one entry per version of a document (at most 8 MiB), and the
# views of the current tick: a few hundred documents, at most 8 MiB; both on the world, so they die with the app
_STORED_BOUNDS = (1024, 8 << 20)
_VIEW_BOUNDS = (512, 8 << 20)
_ENTRY_OVERHEAD = 200  # the key tuple or NamedTuple, the dict slot, object headers


def stored(world: World, raw: bytes) -> Stored:
    """Owner and state of a stored document (its JSON bytes), read once per document version."""
    cache = world.caches.lru("bitcain.stored", *_STORED_BOUNDS, _weigh_stored)
    found = cache.get(raw)
    if found is None:
        doc = orjson.loads(raw)
        found = Stored(doc["user_id"], doc["is_active"])
        cache.put(raw, found)
    return found


def view_json(world: World, raw: bytes, now: datetime) -> bytes:
    """The serialized view of a stored document at `now`, worked out once per document version
    and instant: reads of an unchanged portfolio within a clock tick share it."""
    cache = world.caches.lru("bitcain.views", *_VIEW_BOUNDS, _weigh_view)
    key = (raw, now)
    body = cache.get(key)
    if body is None:
        body = trimmed(orjson.dumps(view(world, load(world, raw), now)))
        cache.put(key, body)
    return body


def _weigh_stored(raw: bytes, found: Stored) -> int:
    return len(raw) + len(found.user_id) + _ENTRY_OVERHEAD


def _weigh_view(key: tuple[bytes, datetime], body: bytes) -> int:
    return len(key[0]) + len(body) + _ENTRY_OVERHEAD


def rebalance(world: World, doc: dict[str, Any], now: datetime) -> None:
    """Sell and buy at today's prices so the positions match the targets; the value is kept."""
    worth = total(value_now(world, doc, now).values())
    doc["positions"] = fund(world, worth, doc["target_allocations"], now)
    doc["last_rebalanced_at"] = iso(now)
    doc.setdefault("position_history", []).append({"at": iso(now), "positions": doc["positions"]})


def timeline(doc: Mapping[str, Any]) -> Timeline:
    """The portfolio's positions over time, from its funding and every rebalance."""
    changes = []
    held: dict[Position, Decimal] = {}
    for snapshot in doc.get("position_history", []):
        at = parse_iso(snapshot["at"])
        after = quantities(snapshot["positions"])
        for position in set(held) | set(after):
            change = after.get(position, ZERO) - held.get(position, ZERO)
            if change:
                changes.append((at, position, change))
        held = after
    if not changes and doc.get("position_history"):
        changes.append((parse_iso(doc["position_history"][0]["at"]), ("USDC", VENUE), ZERO))  # funded with nothing
    return Timeline.of(changes)
