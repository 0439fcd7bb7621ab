"""One deterministic price history per asset, shared by every API.

A price is a pure function of (seed, symbol, instant): a base price moved by a few
seeded slow cycles (yearly down to daily) plus hourly noise interpolated between
seeded knots. Any instant can be priced in O(1), series are smooth, and the same
seed gives the same history on every machine and after every restart.

A world prices through its `Market` (`world.market`), which keeps what it works out of its
seed (each name's phases, each hour's knots) in the world's caches: a request prices many
assets at many instants, and the caches die with the world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ..seeding import stable_seed
from .caches import Caches

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


def _phases(seed: int, name: str) -> tuple[float, ...]:
    return tuple(math.pi * _unit(seed, name, "phase", index) for index in range(len(_CYCLES)))


def _knot(seed: int, name: str, hour: int) -> float:
    return _unit(seed, name, "hour", hour)


Hour = tuple[tuple[float, ...], float, float]  # a name's phases, and its knots at the start and at the end of one hour
_PHASES_BOUNDS = (256, 128 << 10)  # one entry per name priced: the assets and the fiat currencies
_HOURS_BOUNDS = (16_384, 8 << 20)  # one entry per name and hour priced
# what an entry holds besides its name (tracemalloc: about 275 bytes each): an hour's key and value
# tuples, its number and two knots (the phases are shared); a name's tuple of five floats
_ENTRY_BYTES = 300


def _moved(base: float, swing: float, t: float, hour: int, known: Hour) -> float:
    """The model at `t` (seconds since the epoch, in `hour`): `base` moved by seeded cycles (a
    year down to a day) and by noise interpolated between the hour's knots, `swing` wide."""
    phases, start, end = known
    drift = 0.0
    for (period, share), phase in zip(_CYCLES, phases, strict=True):
        drift += share * math.sin(2 * math.pi * t / period + phase)
    weight = t / _HOUR - hour
    noise = (1 - weight) * start + weight * end
    return base * math.exp(swing * (drift + 0.015 * noise))


class Market:
    """The shared price history under one world's seed. Every asset price and FX rate of the
    sandbox is one of its walks."""

    def __init__(self, seed: int, caches: Caches) -> None:
        self.seed = seed
        self._phases = caches.lru("market.phases", *_PHASES_BOUNDS, _weigh_phases)
        self._hours = caches.lru("market.hours", *_HOURS_BOUNDS, _weigh_hour)

    def price_usd(self, symbol: str, at: datetime) -> float:
        """The USD price of an asset at an instant (unrounded)."""
        asset = ASSETS[symbol]
        return self.walk(symbol, asset.base_usd, asset.swing, at)

    def walk(self, name: str, base: float, swing: float, at: datetime) -> float:
        """`base` moved by the seeded cycles and hourly noise of `name`, `swing` wide."""
        t = at.timestamp()
        hour = math.floor(t / _HOUR)
        key = (name, hour)
        known = self._hours.get(key)
        if known is None:
            known = self._hour(name, hour)
            self._hours.put(key, known)
        return _moved(base, swing, t, hour, known)

    def _hour(self, name: str, hour: int) -> Hour:
        """A name's phases and its knots at both ends of an hour. A knot the hour shares with the
        hour before or after is taken from it when that one is known: a series walks hour by hour."""
        before = self._hours.get((name, hour - 1))
        after = self._hours.get((name, hour + 1))
        neighbour = before or after
        phases = self._phases_of(name) if neighbour is None else neighbour[0]
        start = _knot(self.seed, name, hour) if before is None else before[2]
        end = _knot(self.seed, name, hour + 1) if after is None else after[1]
        return (phases, start, end)

    def _phases_of(self, name: str) -> tuple[float, ...]:
        phases = self._phases.get(name)
        if phases is None:
            phases = _phases(self.seed, name)
            self._phases.put(name, phases)
        return phases


def _weigh_hour(key: tuple[str, int], known: Hour) -> int:
    return len(key[0]) + _ENTRY_BYTES


def _weigh_phases(name: str, phases: tuple[float, ...]) -> int:
    return len(name) + _ENTRY_BYTES


def round_price(value: float) -> float:
    """Two decimals for prices of 1 and above, six significant digits below."""
    if value >= 1:
        return round(value, 2)
    return round(value, 5 - math.floor(math.log10(value)))
