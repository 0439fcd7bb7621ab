"""Deterministic holdings for an identity: which assets, how much, bought when and at what cost.

Each lot is bought on a seeded date between 2021-03-01 and 2025-10-01 at the market
price of that moment, so cost basis and returns follow the shared price history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..seeding import stable_seed
from .market import ASSETS, Market, round_price

_FIRST_BUY = datetime(2021, 3, 1, tzinfo=UTC)
_BUY_WINDOW_DAYS = 1675  # up to 2025-10-01


@dataclass(frozen=True)
class Holding:
    symbol: str
    amount: float
    unit_cost: float  # USD paid per unit
    acquired: datetime


def symbols_of(kind: str, evm_only: bool = False) -> list[str]:
    return [s for s, a in ASSETS.items() if (a.kind == kind or (kind == "crypto" and a.kind == "stablecoin")) and (a.evm or not evm_only)]


def pick_holdings(rng: random.Random, symbols: list[str], count: int, market: Market) -> list[Holding]:
    """`count` distinct assets from `symbols`, each bought for 50 to 5,000 USD."""
    holdings = []
    for symbol in sorted(rng.sample(symbols, min(count, len(symbols))), key=symbols.index):
        acquired = _FIRST_BUY + timedelta(days=rng.randrange(_BUY_WINDOW_DAYS), hours=rng.randrange(24))
        unit_cost = round_price(market.price_usd(symbol, acquired))
        decimals = 4 if ASSETS[symbol].kind == "equity" else 6
        amount = round(rng.uniform(50, 5000) / unit_cost, decimals)
        holdings.append(Holding(symbol, max(amount, 10**-decimals), unit_cost, acquired))
    return holdings


def identity_rng(seed: int, api: str, identity: str) -> random.Random:
    """The random source that decides everything about one identity of one API."""
    return random.Random(stable_seed(seed, api, identity))
