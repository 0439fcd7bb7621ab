"""A user's crypto ledger: transactions in, tax lots (FIFO), holdings and cost basis out.

The ledger is the one source of a user's holdings: balances, cost basis, lots and value
history all derive from its entries. Until something is written for a user, the ledger
is the seeded one (`seed_entries`: a few buys on Binance.US and Coinbase at the market
price of their day, and one partial sale); after an ingest it is stored as a JSON
document. Lots are built first-in first-out per asset and venue: every incoming entry
opens a lot, every outgoing one consumes the oldest lots of its venue.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ...sandbox.accounts import identity_rng
from ...sandbox.market import ASSETS
from ...sandbox.world import World
from .valuation import CENT, ZERO, Position, Timeline, money, price, units

INCOMING = frozenset({"buy", "receive", "reward", "convert_in"})
OUTGOING = frozenset({"sell", "send", "convert_out"})
DISPOSALS = frozenset({"sell", "convert_out"})  # outgoing entries that realize a gain or loss
EXCHANGES = ("binanceus", "coinbase", "kraken")
SUPPORTED_ASSETS = tuple(symbol for symbol, asset in ASSETS.items() if asset.kind in ("crypto", "stablecoin"))
_SEED_START = datetime(2023, 1, 2, tzinfo=UTC)
_SEED_WINDOW_DAYS = 1000  # buys up to late September 2025
_REWARDS_START = datetime(2025, 1, 1, tzinfo=UTC)
BACKFILL_PAGE_SIZE = 10


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def short_hash(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Entry:
    """One ledger transaction. `quantity` is positive; `kind` says which way it moves.
    `price_usd` is the unit price (cost for incoming entries, proceeds for disposals) and
    `fee_usd` the fee paid on top of (buys) or taken from (sales) quantity x price."""

    id: str
    at: datetime
    kind: str
    asset: str
    quantity: Decimal
    price_usd: Decimal
    fee_usd: Decimal
    exchange: str
    source: str
    note: str = ""

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.kind in INCOMING else -self.quantity

    def to_doc(self) -> dict[str, str]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "kind": self.kind,
            "asset": self.asset,
            "quantity": f"{self.quantity:f}",
            "price_usd": f"{self.price_usd:f}",
            "fee_usd": f"{self.fee_usd:f}",
            "exchange": self.exchange,
            "source": self.source,
            "note": self.note,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, str]) -> Entry:
        return cls(
            id=doc["id"],
            at=parse_iso(doc["at"]),
            kind=doc["kind"],
            asset=doc["asset"],
            quantity=Decimal(doc["quantity"]),
            price_usd=Decimal(doc["price_usd"]),
            fee_usd=Decimal(doc["fee_usd"]),
            exchange=doc["exchange"],
            source=doc["source"],
            note=doc.get("note", ""),
        )


@dataclass
class Lot:
    lot_id: str
    asset: str
    exchange: str
    acquired_at: datetime
    quantity: Decimal
    remaining: Decimal
    cost_usd: Decimal  # what the whole original quantity cost, fees included
    source: str

    @property
    def unit_cost(self) -> Decimal:
        return self.cost_usd / self.quantity if self.quantity else ZERO

    @property
    def remaining_cost(self) -> Decimal:
        return self.cost_usd * self.remaining / self.quantity if self.quantity else ZERO

    def to_doc(self) -> dict[str, str]:
        doc = asdict(self)
        doc["acquired_at"] = iso(self.acquired_at)
        for name in ("quantity", "remaining", "cost_usd"):
            doc[name] = f"{doc[name]:f}"
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, str]) -> Lot:
        return cls(
            lot_id=doc["lot_id"],
            asset=doc["asset"],
            exchange=doc["exchange"],
            acquired_at=parse_iso(doc["acquired_at"]),
            quantity=Decimal(doc["quantity"]),
            remaining=Decimal(doc["remaining"]),
            cost_usd=Decimal(doc["cost_usd"]),
            source=doc["source"],
        )


@dataclass
class Book:
    """The result of running the entries through FIFO: open lots, realized P&L, the holdings timeline."""

    lots: list[Lot] = field(default_factory=list)  # every lot, consumed ones included (remaining 0)
    realized_usd: dict[str, Decimal] = field(default_factory=dict)  # asset -> realized gain or loss
    shortfalls: list[tuple[str, Decimal]] = field(default_factory=list)  # (entry id, quantity with no lot to take it from)
    timeline: Timeline = field(default_factory=lambda: Timeline(()))

    @property
    def open_lots(self) -> list[Lot]:
        return [lot for lot in self.lots if lot.remaining > 0]

    def holdings(self) -> dict[Position, Decimal]:
        """Quantity per (asset, exchange): the sum of the open lots."""
        held: dict[Position, Decimal] = defaultdict(lambda: ZERO)
        for lot in self.open_lots:
            held[(lot.asset, lot.exchange)] += lot.remaining
        return dict(held)


def sort_entries(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda entry: (entry.at, entry.id))


def build_book(entries: Sequence[Entry], now: datetime) -> Book:
    """FIFO lots per asset and venue from the entries up to `now`. An outgoing entry larger than
    what its venue holds takes what there is; the rest is a shortfall (no known cost basis)."""
    book = Book()
    queues: dict[Position, deque[Lot]] = defaultdict(deque)
    changes = []
    for entry in sort_entries(entries):
        if entry.at > now:
            continue
        position = (entry.asset, entry.exchange)
        if entry.kind in INCOMING:
            cost = entry.quantity * entry.price_usd + entry.fee_usd
            lot = Lot(f"lot-{entry.id}", entry.asset, entry.exchange, entry.at, entry.quantity, entry.quantity, cost, entry.source)
            book.lots.append(lot)
            queues[position].append(lot)
            changes.append((entry.at, position, entry.quantity))
            continue
        wanted = entry.quantity
        cost = ZERO
        queue = queues[position]
        while wanted > 0 and queue:
            lot = queue[0]
            taken = min(wanted, lot.remaining)
            cost += lot.cost_usd * taken / lot.quantity
            lot.remaining -= taken
            wanted -= taken
            if lot.remaining == 0:
                queue.popleft()
        moved = entry.quantity - wanted
        if wanted > 0:
            book.shortfalls.append((entry.id, wanted))
        if moved:
            changes.append((entry.at, position, -moved))
        if entry.kind in DISPOSALS and moved:
            proceeds = moved * entry.price_usd - entry.fee_usd * moved / entry.quantity
            book.realized_usd[entry.asset] = book.realized_usd.get(entry.asset, ZERO) + proceeds - cost
    book.timeline = Timeline.of(changes)
    return book


# --- the seeded ledger ------------------------------------------------------------------------


def seed_entries(world: World, user: str) -> list[Entry]:
    """A user's starting ledger: 3 to 5 assets bought 1 to 3 times each on Binance.US or Coinbase
    at the price of the moment (with a 0.6% fee), and part of one position sold later."""
    seed = world.seed
    rng = identity_rng(seed, "bitcain-ledger", user)
    assets = ["BTC", "ETH", *rng.sample(["SOL", "LINK", "ADA", "DOGE", "UNI", "ARB"], rng.randint(1, 3))]
    entries: list[Entry] = []
    for asset in assets:
        for index in range(rng.randint(1, 3)):
            at = _SEED_START + timedelta(days=rng.randrange(_SEED_WINDOW_DAYS), hours=rng.randrange(24), minutes=rng.randrange(60))
            unit = price(world, asset, at)
            spend = Decimal(rng.randrange(200, 5000))
            quantity = units(spend / unit)
            fee = money(quantity * unit * Decimal("0.006"))
            exchange = rng.choice(EXCHANGES[:2])
            entry_id = f"seed-{short_hash(seed, user, asset, index)}"
            entries.append(Entry(entry_id, at, "buy", asset, quantity, unit, fee, exchange, "seed", f"Bought {quantity} {asset}"))
    first = sort_entries(entries)[0]
    sold_at = first.at + timedelta(days=rng.randint(30, 120))
    unit = price(world, first.asset, sold_at)
    quantity = units(first.quantity * Decimal(rng.randint(20, 50)) / 100)
    fee = money(quantity * unit * Decimal("0.006"))
    entry_id = f"seed-{short_hash(seed, user, 'sale')}"
    entries.append(
        Entry(entry_id, sold_at, "sell", first.asset, quantity, unit, fee, first.exchange, "seed", f"Sold {quantity} {first.asset}")
    )
    return sort_entries(entries)


def remote_coinbase_ledger(world: World, user: str, seeded: Sequence[Entry]) -> dict[str, list[Entry]]:
    """What the user's Coinbase account reports that the ledger does not have yet: staking and
    reward income during 2025, per currency, newest first (as Coinbase pages its ledger)."""
    currencies = sorted({entry.asset for entry in seeded if entry.exchange == "coinbase"}) or ["BTC"]
    seed = world.seed
    remote: dict[str, list[Entry]] = {}
    for currency in currencies:
        rng = identity_rng(seed, "bitcain-coinbase-ledger", f"{user}|{currency}")
        entries = []
        for index in range(rng.randint(4, 28)):
            at = _REWARDS_START + timedelta(days=rng.randrange(365), hours=rng.randrange(24), minutes=rng.randrange(60))
            unit = price(world, currency, at)
            quantity = max(units(Decimal(str(round(rng.uniform(0.5, 15.0), 2))) / unit), Decimal("0.00000001"))
            entry_id = f"cb-{short_hash(seed, user, currency, index)}"
            kind_note = "Staking Income" if currency in ("ETH", "SOL", "ADA") else "Rewards Income"
            entries.append(Entry(entry_id, at, "reward", currency, quantity, unit, ZERO, "coinbase", "trade_history_sync", kind_note))
        remote[currency] = sorted(entries, key=lambda entry: (entry.at, entry.id), reverse=True)
    return remote


# --- reports ----------------------------------------------------------------------------------


def cost_basis_by_asset(book: Book) -> dict[str, tuple[Decimal, Decimal]]:
    """asset -> (quantity held, cost basis of what is held), over every venue."""
    found: dict[str, tuple[Decimal, Decimal]] = {}
    for lot in book.open_lots:
        quantity, cost = found.get(lot.asset, (ZERO, ZERO))
        found[lot.asset] = (quantity + lot.remaining, cost + lot.remaining_cost)
    return found


def lots_doc(book: Book) -> list[dict[str, Any]]:
    return [lot.to_doc() for lot in book.lots]


def round_cost(value: Decimal) -> Decimal:
    return value.quantize(CENT)
