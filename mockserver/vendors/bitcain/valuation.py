"""Holdings priced with the shared price history: values now and series over time.

Money is `Decimal` throughout. A position is a (asset, venue) pair; its value is
quantity x price rounded to the cent, and every total is the sum of those rounded
position values, so totals always add up exactly, whatever view sums them. Prices are kept in
the world's caches (a series prices the same assets at the same instants again and again).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal

from ...sandbox.caches import ENTRY_BYTES
from ...sandbox.market import round_price
from ...sandbox.world import World

CENT = Decimal("0.01")
SATOSHI = Decimal("0.00000001")
ZERO = Decimal(0)
# rounding to the cent or the satoshi needs every digit of the value: up to rules.MAX_VALUE_USD's 25
# and the 8 decimals, past the 28 digits of the default context
_ROUNDING = Context(prec=48)
Position = tuple[str, str]  # (asset, venue)
Quantities = Mapping[Position, Decimal]

# timeframe -> (step between points, number of steps back from now; None: back to inception)
TIMEFRAMES: dict[str, tuple[timedelta, int | None]] = {
    "1D": (timedelta(hours=1), 24),
    "1W": (timedelta(hours=6), 28),
    "1M": (timedelta(days=1), 30),
    "3M": (timedelta(days=1), 90),
    "1Y": (timedelta(days=1), 365),
    "ALL": (timedelta(weeks=1), None),
}


_PRICE_BOUNDS = (4096, 2 << 20)
_PRICE_BYTES = 100  # a price's instant and Decimal, besides the entry (tracemalloc: about 285 in all)


def price(world: World, asset: str, at: datetime) -> Decimal:
    """The asset's USD price at an instant, as the market quotes it (rounded like every API shows it)."""
    prices = world.caches.lru("bitcain.prices", *_PRICE_BOUNDS, _weigh_price)
    key = (asset, at)
    found = prices.get(key)
    if found is None:
        found = Decimal(str(round_price(world.market.price_usd(asset, at))))
        prices.put(key, found)
    return found


def _weigh_price(key: tuple[str, datetime], found: Decimal) -> int:
    return len(key[0]) + _PRICE_BYTES + ENTRY_BYTES


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_EVEN, _ROUNDING)


def units(value: Decimal) -> Decimal:
    """A quantity cut to 8 decimals (what an exchange credits)."""
    return value.quantize(SATOSHI, ROUND_DOWN, _ROUNDING)


def text(value: Decimal) -> str:
    """A decimal as the API writes it: plain notation, never an exponent."""
    return f"{value:f}"


def quantity_text(value: Decimal) -> str:
    """A quantity as exchanges write it: eight decimals."""
    return f"{value.quantize(SATOSHI, context=_ROUNDING):f}"


def percent_text(part: Decimal, whole: Decimal) -> str:
    """`part` as a percentage of `whole`, to two decimals ("0.00" when `whole` is zero)."""
    return text((part / whole * 100).quantize(CENT)) if whole else "0.00"


def position_values(world: World, quantities: Quantities, at: datetime) -> dict[Position, Decimal]:
    """Each position's value in USD at `at`, to the cent (positions of zero quantity are left out)."""
    prices: dict[str, Decimal] = {}
    values = {}
    for (asset, venue), quantity in quantities.items():
        if quantity <= 0:
            continue
        if asset not in prices:
            prices[asset] = price(world, asset, at)
        values[(asset, venue)] = money(quantity * prices[asset])
    return values


def total(values: Iterable[Decimal]) -> Decimal:
    """A sum of money, written with cents even when there is nothing to add."""
    return sum(values, Decimal("0.00"))


@dataclass(frozen=True)
class Timeline:
    """Quantities per position over time: a sorted list of (instant, position, change)."""

    changes: tuple[tuple[datetime, Position, Decimal], ...]

    @classmethod
    def of(cls, changes: Iterable[tuple[datetime, Position, Decimal]]) -> Timeline:
        return cls(tuple(sorted(changes, key=lambda change: change[0])))

    @property
    def inception(self) -> datetime | None:
        return self.changes[0][0] if self.changes else None

    def quantities_at(self, at: datetime) -> dict[Position, Decimal]:
        held: dict[Position, Decimal] = {}
        end = bisect.bisect_right([change[0] for change in self.changes], at)
        for _, position, change in self.changes[:end]:
            held[position] = held.get(position, ZERO) + change
        return held

    def sweep(self, instants: list[datetime]) -> Iterable[tuple[datetime, dict[Position, Decimal]]]:
        """(instant, quantities held then) for ascending instants, in one pass over the changes."""
        held: dict[Position, Decimal] = {}
        index = 0
        for at in instants:
            while index < len(self.changes) and self.changes[index][0] <= at:
                _, position, change = self.changes[index]
                held[position] = held.get(position, ZERO) + change
                index += 1
            yield at, held


def sample_instants(timeframe: str, now: datetime, inception: datetime | None) -> list[datetime]:
    """The instants of a timeframe's points, oldest first, ending at `now`; none before `inception`."""
    if inception is None or inception > now:
        return []
    step, count = TIMEFRAMES[timeframe]
    if count is None:
        count = int((now - inception) / step)
    instants = [now - step * back for back in range(count, -1, -1)]
    return [at for at in instants if at >= inception]


def daily_instants(days: int, now: datetime, inception: datetime | None) -> list[datetime]:
    """One instant per day for the last `days` days, and now, oldest first; none before `inception`."""
    if inception is None or inception > now:
        return []
    return [now - timedelta(days=back) for back in range(days, -1, -1) if now - timedelta(days=back) >= inception]


def series(world: World, timeline: Timeline, instants: list[datetime]) -> list[tuple[datetime, Decimal]]:
    """The total value held at each instant."""
    return [(at, total(position_values(world, held, at).values())) for at, held in timeline.sweep(instants)]
