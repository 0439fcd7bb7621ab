"""What Bitpanda's resolvers pass down the query: the request's `Viewer`, and `Portfolio` and `Amount` values.

A portfolio point computes its total and balances only when the query selects them; an
amount keeps the asset amounts it stands for, so `in(currency)` can convert it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo

from ...sandbox.world import World
from ...vocabulary import Identity
from .holdings import CustodyAsset, Holdings, hour_text, instant_ns, nearest_hour, plain, value_in

TOTAL_CURRENCY = "GBP"


@dataclass(slots=True)
class Viewer:
    """One authenticated request: its user, and what the request has asked for so far."""

    identity: Identity
    holdings: Holdings
    world: World
    shape: bytes | None = None  # the digest of what a scenario shaped of the key (None: generated holdings)
    points: int = 0
    latest: int | None = field(default=None)

    @property
    def seed(self) -> int:
        return self.world.seed

    def latest_hour(self) -> int:
        """The latest available hour: the sandbox clock rounded to the nearest hour (fixed for the request)."""
        if self.latest is None:
            self.latest = nearest_hour(instant_ns(self.world.now()))
        return self.latest


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

    def balances_at(self) -> list[tuple[CustodyAsset, Decimal]]:
        return self.viewer.holdings.at(self.hour)

    def total(self, info: GraphQLResolveInfo) -> Money:
        holdings = tuple((asset.symbol, amount) for asset, amount in self.balances_at())
        value = value_in(self.viewer.world, holdings, TOTAL_CURRENCY, self.hour)
        return Money(plain(value), TOTAL_CURRENCY, self.timestamp, holdings, self.hour)

    def balances(self, info: GraphQLResolveInfo) -> dict[str, Any]:
        items = []
        for asset, amount in self.balances_at():
            money = Money(plain(amount), asset.symbol, self.timestamp, ((asset.symbol, amount),), self.hour)
            items.append({"asset": _asset(asset), "amount": money, "available": money})
        return {"items": items, "nextToken": None}


def _asset(asset: CustodyAsset) -> dict[str, Any]:
    return {
        "symbol": asset.symbol,
        "displaySymbol": asset.display_symbol,
        "name": asset.name,
        "chain": asset.chain,
        "decimalPlace": asset.decimal_place,
    }
