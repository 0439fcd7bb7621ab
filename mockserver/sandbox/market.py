"""One deterministic price history per asset, shared by every API.

A price is a pure function of (seed, symbol, instant): a base price moved by a few
seeded slow cycles (yearly down to daily) plus hourly noise interpolated between
seeded knots. Any instant can be priced in O(1), series are smooth, and the same
seed gives the same history on every machine and after every restart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ..seeding import stable_seed

_HOUR = 3600.0
_DAY = 86400.0
# (period in seconds, share of the asset's swing)
_CYCLES = ((365 * _DAY, 0.55), (97 * _DAY, 0.25), (29 * _DAY, 0.12), (7 * _DAY, 0.05), (_DAY, 0.03))


@dataclass(frozen=True)
class Asset:
    symbol: str
    name: str
    kind: str  # crypto | equity | stablecoin
    base_usd: float
    swing: float  # typical deviation of log-price from the base
    evm: bool = False  # held in self-custody wallets on EVM networks


ASSETS: dict[str, Asset] = {
    asset.symbol: asset
    for asset in (
        Asset("BTC", "Bitcoin", "crypto", 62_000.0, 0.45),
        Asset("ETH", "Ethereum", "crypto", 3_100.0, 0.5, evm=True),
        Asset("SOL", "Solana", "crypto", 145.0, 0.6),
        Asset("DOGE", "Dogecoin", "crypto", 0.12, 0.7),
        Asset("ADA", "Cardano", "crypto", 0.45, 0.6),
        Asset("LINK", "Chainlink", "crypto", 14.5, 0.55, evm=True),
        Asset("UNI", "Uniswap", "crypto", 8.2, 0.55, evm=True),
        Asset("ARB", "Arbitrum", "crypto", 0.95, 0.6, evm=True),
        Asset("USDC", "USD Coin", "stablecoin", 1.0, 0.001, evm=True),
        Asset("AAPL", "Apple", "equity", 190.0, 0.18),
        Asset("TSLA", "Tesla", "equity", 240.0, 0.35),
        Asset("MSFT", "Microsoft", "equity", 415.0, 0.16),
        Asset("AMZN", "Amazon", "equity", 180.0, 0.2),
        Asset("NVDA", "NVIDIA", "equity", 120.0, 0.3),
        Asset("GOOGL", "Alphabet", "equity", 165.0, 0.18),
    )
}


def _unit(seed: int, *parts: object) -> float:
    """A stable number in [-1, 1)."""
    return stable_seed(seed, *parts) / 2**63 - 1.0


@lru_cache(maxsize=256)
def _phases(seed: int, name: str) -> tuple[float, ...]:
    return tuple(math.pi * _unit(seed, name, "phase", index) for index in range(len(_CYCLES)))


@lru_cache(maxsize=16_384)
def _knot(seed: int, name: str, hour: int) -> float:
    return _unit(seed, name, "hour", hour)


def walk(name: str, base: float, swing: float, at: datetime, seed: int = 0) -> float:
    """The shared price model: `base` moved by seeded cycles (a year down to a day) and hourly
    noise, `swing` wide. Every asset price and FX rate of the sandbox is one of these walks.
    (The seeded phases and hourly knots are kept: a request prices many assets at many instants.)"""
    t = at.timestamp()
    drift = 0.0
    for (period, share), phase in zip(_CYCLES, _phases(seed, name), strict=True):
        drift += share * math.sin(2 * math.pi * t / period + phase)
    knot = math.floor(t / _HOUR)
    weight = t / _HOUR - knot
    noise = (1 - weight) * _knot(seed, name, knot) + weight * _knot(seed, name, knot + 1)
    return base * math.exp(swing * (drift + 0.015 * noise))


def price_usd(symbol: str, at: datetime, seed: int = 0) -> float:
    """The USD price of an asset at an instant (unrounded)."""
    asset = ASSETS[symbol]
    return walk(symbol, asset.base_usd, asset.swing, at, seed)


def round_price(value: float) -> float:
    """Two decimals for prices of 1 and above, six significant digits below."""
    if value >= 1:
        return round(value, 2)
    return round(value, 5 - math.floor(math.log10(value)))
