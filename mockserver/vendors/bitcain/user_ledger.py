"""The token's user and their ledger as the handlers see it: stored entries, or the seeded ones.

A user's ledger is the seeded one (`seed_entries`) until something is written for them (by
the API, or by a scenario: scenario_ledger); from then on it is a JSON document of kind
`ledger` in the store, keyed and owned by the user, holding the entries and their FIFO lots.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from ...sandbox.caches import ENTRY_BYTES
from ...sandbox.world import World
from ...vocabulary import Call, Identity
from . import clock
from .ledger import Book, Entry, build_book, iso, parse_iso, seed_entries, sort_entries
from .valuation import Position, position_values, price, text

LEDGER = "ledger"
_USER_NAMESPACE = uuid.UUID("6f1c7d0e-2b8a-4c55-9e3d-0a4b5c6d7e8f")
_SEEDED_BOUNDS = (256, 4 << 20)  # about 10 entries a user
_ENTRY_BYTES = 1000  # one ledger entry: its id, instant, three Decimals and note (tracemalloc: about 1,000)


def user_of(identity: Identity | None) -> str:
    """The token's user: its configured `user_id`, or a UUID derived from the identity's name."""
    if identity is None:
        return ""
    configured = identity.data.get("user_id")
    return str(configured) if configured else str(uuid.uuid5(_USER_NAMESPACE, identity.name))


def seeded_entries(world: World, user: str) -> tuple[Entry, ...]:
    """The user's seeded entries (the same for the same seed and user), kept in the world's caches."""
    seeded = world.caches.lru("bitcain.seeded", *_SEEDED_BOUNDS, _weigh_seeded)
    found = seeded.get(user)
    if found is None:
        found = tuple(seed_entries(world, user))
        seeded.put(user, found)
    return found


def _weigh_seeded(user: str, entries: tuple[Entry, ...]) -> int:
    return len(user) + _ENTRY_BYTES * len(entries) + ENTRY_BYTES


def stored_entry(world: World, item: dict[str, str]) -> Entry:
    """An entry of a stored ledger. One a scenario gave without a price is at the market price of its
    instant, as a seeded entry is."""
    if "price_usd" not in item:
        item = {**item, "price_usd": text(price(world, item["asset"], parse_iso(item["at"])))}
    return Entry.from_doc(item)


class Ledger:
    """The token user's entries (stored, or the seeded ones) and their FIFO book as of now."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.user = user_of(call.identity)
        self.now = clock.now(call)
        self.world = call.world
        self.doc = call.state.get(LEDGER, self.user)
        self.entries = (
            [stored_entry(self.world, item) for item in self.doc["entries"]] if self.doc else list(seeded_entries(self.world, self.user))
        )
        self.book: Book = build_book(self.entries, self.now)

    def save(self, entries: list[Entry] | None = None, **marks: str) -> None:
        """Store the ledger (materializing the seeded one on its first write), with its lots rebuilt."""
        if entries is not None:
            self.entries = sort_entries(entries)
            self.book = build_book(self.entries, self.now)
        doc = dict(self.doc or {"user_id": self.user})
        doc.update(marks)
        doc["entries"] = [entry.to_doc() for entry in self.entries]
        doc["lots"] = [lot.to_doc() for lot in self.book.lots]
        doc["updated_at"] = iso(self.now)
        self.call.state.put(LEDGER, self.user, doc, owner=self.user)
        self.doc = doc

    def values(self) -> dict[Position, Decimal]:
        return position_values(self.world, self.book.holdings(), self.now)
