"""Custody holdings hour by hour, and the quotes that value them (Bitpanda Custody).

Time is counted in whole hours since the Unix epoch. A user's holdings are a few assets,
each a list of seeded transfers (hour, units held from then on) from 2021-02-16 on, so the
balance at any hour is a lookup. Values use quotes: an asset's price in a fiat currency at
the hour's rate time (a seeded 1 to 15 minutes past the hour), from the shared price history
(`Market.price_usd`) and a USD rate per fiat currency that moves the same way the shared
prices do (same cycles, same seeded noise, its own base and swing). Quotes are decimals with
the market's rounding (two decimals from 1 up, six significant digits below), amounts are
integer units of the asset, so every value is an exact product and every total an exact sum.
Quotes are kept in the world's caches (a series asks for the same hours again and again).
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal

from ...sandbox.accounts import identity_rng
from ...sandbox.caches import text_bytes
from ...sandbox.market import Market, round_price
from ...sandbox.world import World
from ...seeding import stable_seed

HOUR_NS = 3_600 * 10**9
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATA_START = datetime(2021, 2, 16, tzinfo=UTC)
DATA_START_HOUR = int((DATA_START - EPOCH) / timedelta(hours=1))
_HORIZON_HOUR = int((datetime(2031, 1, 1, tzinfo=UTC) - EPOCH) / timedelta(hours=1))  # seeded transfers stop here
EXACT = Context(prec=60)  # wide enough that products and sums of amounts and quotes are exact


@dataclass(frozen=True)
class CustodyAsset:
    symbol: str
    name: str
    chain: str
    decimal_place: int  # of the smallest unit on its chain
    places: int  # decimals of the sandbox's amounts (at most decimal_place)

    @property
    def display_symbol(self) -> str:
        return self.symbol


# the order balances are listed in: ETH and BTC first, as in the document's examples
CUSTODY_ASSETS: tuple[CustodyAsset, ...] = (
    CustodyAsset("ETH", "Ethereum", "ETHEREUM", 18, 9),
    CustodyAsset("BTC", "Bitcoin", "BITCOIN", 8, 8),
    CustodyAsset("USDC", "USD Coin", "ETHEREUM", 6, 6),
    CustodyAsset("LINK", "Chainlink", "ETHEREUM", 18, 9),
    CustodyAsset("UNI", "Uniswap", "ETHEREUM", 18, 9),
    CustodyAsset("SOL", "Solana", "SOLANA", 9, 9),
    CustodyAsset("ADA", "Cardano", "CARDANO", 6, 6),
    CustodyAsset("DOGE", "Dogecoin", "DOGECOIN", 8, 8),
)
ASSET_BY_SYMBOL = {asset.symbol: asset for asset in CUSTODY_ASSETS}
ALWAYS_HELD = ("ETH", "BTC")

# fiat currency -> (USD per unit around which the rate moves, typical deviation of its log)
FIAT: dict[str, tuple[float, float]] = {
    "USD": (1.0, 0.0),
    "GBP": (1.27, 0.04),
    "EUR": (1.09, 0.04),
    "CHF": (1.12, 0.035),
    "JPY": (0.0068, 0.07),
}


# --- time -------------------------------------------------------------------------------------

_INSTANT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII,
)


def parse_instant_ns(text: str) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 date and time (or a date alone: midnight),
    with `Z` or an offset (none: UTC); None when the text is not one."""
    match = _INSTANT.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC)
    except ValueError:
        return None
    offset = 0
    if zone and zone not in "Zz":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            return None
        offset = (1 if zone[0] == "+" else -1) * (hours * 60 + minutes) * 60
    seconds = (moment - EPOCH) // timedelta(seconds=1) - offset
    return seconds * 10**9 + int((fraction or "").ljust(9, "0"))


def nearest_hour(ns: int) -> int:
    """The hour nearest an instant; half past rounds up (12:30:00.000 -> 13:00)."""
    return (ns + HOUR_NS // 2) // HOUR_NS


def instant_ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def hour_text(hour: int) -> str:
    """`2021-03-02T16:00:00.000Z`."""
    return (EPOCH + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:00:00.000Z")


def ns_text(ns: int) -> str:
    """An instant with milliseconds and `Z` (sub-millisecond digits are dropped)."""
    moment = EPOCH + timedelta(microseconds=ns // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rate_minute(hour: int, seed: int) -> int:
    """When the hour's rates are published: 1 to 15 minutes past it (one time for every currency)."""
    return 1 + stable_seed(seed, "custody-rates", hour) % 15


def rate_instant(hour: int, seed: int) -> datetime:
    return EPOCH + timedelta(hours=hour, minutes=rate_minute(hour, seed))


def rate_text(hour: int, seed: int) -> str:
    return rate_instant(hour, seed).strftime("%Y-%m-%dT%H:%M:00.000Z")


# --- prices -----------------------------------------------------------------------------------


def fx_usd(market: Market, currency: str, at: datetime) -> float:
    """USD per unit of a fiat currency (exactly 1 for USD): the shared price model's cycles and
    hourly noise (market.py), with the currency's own base and swing."""
    base, swing = FIAT[currency]
    return market.walk(currency, base, swing, at) if swing else base


_QUOTE_BOUNDS = (16_384, 8 << 20)
_QUOTE_ENTRY_BYTES = 300  # the key tuple, the hour, the Decimal, the dict slot (tracemalloc: about 275)


def quote(world: World, symbol: str, currency: str, hour: int) -> Decimal:
    """The price of one unit of an asset in a fiat currency, at the hour's rate time."""
    quotes = world.caches.lru("bitpanda.quotes", *_QUOTE_BOUNDS, _weigh_quote)
    key = (symbol, currency, hour)
    found = quotes.get(key)
    if found is None:
        at = rate_instant(hour, world.seed)
        found = Decimal(repr(round_price(world.market.price_usd(symbol, at) / fx_usd(world.market, currency, at))))
        quotes.put(key, found)
    return found


def _weigh_quote(key: tuple[str, str, int], found: Decimal) -> int:
    return text_bytes(key) + _QUOTE_ENTRY_BYTES


def plain(value: Decimal) -> str:
    """A decimal as plain text: no exponent, no trailing zeros (`0.5`, `1200`, `0`)."""
    if not value:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def value_in(world: World, holdings: tuple[tuple[str, Decimal], ...], currency: str, hour: int) -> Decimal:
    """What some asset amounts are worth in a fiat currency: the exact sum of amount x quote."""
    total = Decimal(0)
    for symbol, amount in holdings:
        total = EXACT.add(total, EXACT.multiply(amount, quote(world, symbol, currency, hour)))
    return total


# --- holdings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    """One asset of one user: from each transfer's hour on, the units held."""

    asset: CustodyAsset
    hours: tuple[int, ...]
    units: tuple[int, ...]

    def at(self, hour: int) -> int:
        index = bisect_right(self.hours, hour) - 1
        return self.units[index] if index >= 0 else 0


@dataclass(frozen=True)
class Holdings:
    ledgers: tuple[Ledger, ...]  # in CUSTODY_ASSETS order

    def at(self, hour: int) -> list[tuple[CustodyAsset, Decimal]]:
        """The non-zero balances at an hour, in asset order."""
        found = []
        for ledger in self.ledgers:
            units = ledger.at(hour)
            if units:
                found.append((ledger.asset, Decimal(units).scaleb(-ledger.asset.places)))
        return found


def holdings_for(world: World, api: str, identity: str) -> Holdings:
    """A user's holdings, decided by (seed, api, identity) alone: ETH and BTC from the first day
    of data, one to four more assets from seeded hours; each moves by seeded deposits and
    withdrawals, and an extra asset may be sold off entirely."""
    rng = identity_rng(world.seed, api, identity)
    others = [asset.symbol for asset in CUSTODY_ASSETS if asset.symbol not in ALWAYS_HELD]
    chosen = set(ALWAYS_HELD) | set(rng.sample(others, rng.randint(1, 4)))
    ledgers = []
    for asset in CUSTODY_ASSETS:
        if asset.symbol not in chosen:
            continue
        always = asset.symbol in ALWAYS_HELD
        opened = DATA_START_HOUR if always or rng.random() < 0.3 else DATA_START_HOUR + rng.randrange(4 * 365 * 24)
        ledgers.append(_ledger(rng, asset, opened, world.market, can_close=not always))
    return Holdings(tuple(ledgers))


def _ledger(rng: random.Random, asset: CustodyAsset, opened: int, market: Market, can_close: bool) -> Ledger:
    scale = 10**asset.places
    price = market.price_usd(asset.symbol, EPOCH + timedelta(hours=opened))
    units = max(1, int(rng.uniform(300, 20_000) / price * scale))
    hours, held = [opened], [units]
    transfers = sorted(rng.sample(range(opened + 1, _HORIZON_HOUR), rng.randint(4, 14)))
    for index, hour in enumerate(transfers):
        if can_close and index == len(transfers) - 1 and rng.random() < 0.3:
            units = 0  # sold off: the asset leaves the list from here on
        else:
            units = max(1, units + int(units * rng.uniform(-0.3, 0.5)))
        hours.append(hour)
        held.append(units)
    return Ledger(asset, tuple(hours), tuple(held))
