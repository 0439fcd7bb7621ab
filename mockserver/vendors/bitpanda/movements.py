"""A shaped key's holdings (scenario.py): its deposits and withdrawals of each asset, at instants,
summed into the same hour-by-hour ledgers generated holdings are made of (holdings.py).

A movement counts from the first whole hour at or after its instant: a portfolio point shows what
was held at its own timestamp. Amounts become integer units of the asset (its `places` decimals),
so balances, values and totals stay exact sums, as for generated holdings.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Any

import orjson

from ...sandbox.caches import ENTRY_BYTES
from ...sandbox.world import World
from .holdings import ASSET_BY_SYMBOL, CUSTODY_ASSETS, HOUR_NS, CustodyAsset, Holdings, Ledger, instant_ns, parse_instant_ns

DEPOSIT, WITHDRAWAL = "deposit", "withdrawal"
MAX_AMOUNT = Decimal(10) ** 12  # of one asset in one movement
MAX_INSTANT_CHARS = 40
EARLIEST_NS = instant_ns(datetime(2000, 1, 1, tzinfo=UTC))  # the range the sandbox clock may be set in
LATEST_NS = instant_ns(datetime(2100, 1, 1, tzinfo=UTC))
_DECIMAL = re.compile(r"\d{1,13}(\.\d{1,18})?", re.ASCII)
_SHAPED_BOUNDS = (4_096, 16 << 20)
_CHANGE_BYTES = 80  # a ledger's hour and units: two ints, two tuple slots (tracemalloc: about 58)


@dataclass(frozen=True, slots=True)
class Movement:
    asset: CustodyAsset
    ns: int  # its instant, nanoseconds since the epoch
    units: int  # of the asset, signed: a withdrawal's are below 0

    @property
    def hour(self) -> int:
        """The first whole hour at or after its instant: the first portfolio point it counts in."""
        return -(-self.ns // HOUR_NS)


def instant_of(at: Any) -> int | None:
    """A movement's instant in nanoseconds: ISO 8601 text between 2000 and 2100, else None."""
    if not isinstance(at, str) or len(at) > MAX_INSTANT_CHARS:
        return None
    ns = parse_instant_ns(at)
    return ns if ns is not None and EARLIEST_NS <= ns < LATEST_NS else None


def units_of(amount: Any, places: int) -> int | None:
    """An amount (decimal text, or a JSON number) in units of `places` decimals: None unless it is
    above 0, below MAX_AMOUNT and has at most `places` decimals."""
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
        return None
    if isinstance(amount, str) and not _DECIMAL.fullmatch(amount):
        return None
    try:
        value = Decimal(amount if isinstance(amount, str) else repr(amount))
    except InvalidOperation:
        return None
    if not value.is_finite() or not 0 < value < MAX_AMOUNT:
        return None
    units = value.scaleb(places)
    return int(units) if units == units.to_integral_value() else None


def movement_of(raw: dict[str, Any]) -> Movement | None:
    """A movement as the scenario gives it (`asset`, `type`, `at`, `amount`), or None when any part is wrong."""
    asset = ASSET_BY_SYMBOL.get(raw.get("asset")) if isinstance(raw.get("asset"), str) else None
    ns = instant_of(raw.get("at"))
    units = units_of(raw.get("amount"), asset.places) if asset is not None else None
    if asset is None or ns is None or units is None or raw.get("type") not in (DEPOSIT, WITHDRAWAL):
        return None
    return Movement(asset, ns, units if raw["type"] == DEPOSIT else -units)


def holdings_from(movements: list[dict[str, Any]]) -> Holdings:
    """The holdings sound movements (scenario.check) add up to: per asset, from each hour a movement
    counts in, the units held; only the assets moved, in the order generated holdings list them."""
    changes: dict[str, dict[int, int]] = {}
    for raw in movements:
        movement = movement_of(raw)
        assert movement is not None, raw
        hours = changes.setdefault(movement.asset.symbol, {})
        hours[movement.hour] = hours.get(movement.hour, 0) + movement.units
    ledgers = []
    for asset in CUSTODY_ASSETS:
        if asset.symbol in changes:
            hours = sorted(changes[asset.symbol])
            held = accumulate(changes[asset.symbol][hour] for hour in hours)
            ledgers.append(Ledger(asset, tuple(hours), tuple(held)))
    return Holdings(tuple(ledgers))


def shaped_holdings(world: World, raw: bytes) -> tuple[bytes, Holdings]:
    """A shaped key's document as stored -> its digest and its holdings, kept in the world's caches
    by that digest (the key asks again on every request)."""
    digest = hashlib.blake2b(raw, digest_size=16).digest()
    shaped = world.caches.lru("bitpanda.shaped", *_SHAPED_BOUNDS, _weigh_shaped)
    found = shaped.get(digest)
    if found is None:
        found = holdings_from(orjson.loads(raw)["movements"])
        shaped.put(digest, found)
    return digest, found


def _weigh_shaped(digest: bytes, holdings: Holdings) -> int:
    hours = sum(len(ledger.hours) for ledger in holdings.ledgers)
    return len(digest) + ENTRY_BYTES + hours * _CHANGE_BYTES
