"""A scenario user's ledger: its entries checked, then written as the ledger stores them.

An entry is a ledger transaction in the ledger's own terms (`ledger.Entry`); `id`, `price_usd`,
`fee_usd`, `source` and `note` may be left out. An entry with no price is at the market price of
its instant, worked out when the ledger is read (`user_ledger.stored_entry`), as seeded entries are.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from .. import each_item_problems, unknown_members
from .ledger import EXCHANGES, INCOMING, OUTGOING, SUPPORTED_ASSETS, short_hash
from .scenario_values import INSTANT, decimal, instant, text_within
from .valuation import ZERO, Position, text

MAX_ENTRIES = 1000  # of one user
MAX_AMOUNT = Decimal(10) ** 12  # a quantity, a unit price or a fee
PLACES = 8
KINDS = tuple(sorted(INCOMING | OUTGOING))
SOURCE = "scenario"  # what the lots of a scenario's entries say they came from
_MEMBERS = frozenset({"id", "at", "kind", "asset", "quantity", "price_usd", "fee_usd", "exchange", "source", "note"})
_DECIMALS = {"quantity": "a quantity above 0", "price_usd": "the USD price of one unit", "fee_usd": "the fee in USD"}
_MAX_ID, _MAX_NOTE = 64, 200


def problems_of(user_id: str, entries: Any, where: str) -> list[str]:
    """Every problem of a user's ledger: its entries', ids given twice, and what is sold or sent
    from an exchange that does not hold it then."""
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        return [f"{where}: a list of at most {MAX_ENTRIES} entries"]
    problems = each_item_problems(entries, where, _entry_problems)
    if problems:
        return problems
    ordered = _ordered(user_id, entries)
    seen: set[str] = set()
    for index, doc in ordered:
        if doc["id"] in seen:
            problems.append(f"{where}[{index}].id: {doc['id']} names two entries")
        seen.add(doc["id"])
    return problems or _shortfalls(ordered, where)


def _entry_problems(entry: Any, where: str) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: an entry is an object"]
    problems = unknown_members(entry, _MEMBERS, where)
    if "id" in entry and not text_within(entry["id"], _MAX_ID):
        problems.append(f"{where}.id: a string of 1 to {_MAX_ID} characters")
    if instant(entry.get("at")) is None:
        problems.append(f"{where}.at: {INSTANT}")
    for name, allowed in (("kind", KINDS), ("asset", SUPPORTED_ASSETS), ("exchange", EXCHANGES)):
        if entry.get(name) not in allowed:
            problems.append(f"{where}.{name}: one of {', '.join(allowed)}")
    for name, meaning in _DECIMALS.items():
        if name not in entry and name != "quantity":
            continue
        found = decimal(entry.get(name), PLACES, MAX_AMOUNT)
        if found is None or (name == "quantity" and found == 0):
            problems.append(f"{where}.{name}: {meaning}, up to {MAX_AMOUNT:,} with at most {PLACES} decimals")
    if "source" in entry and not text_within(entry["source"], _MAX_ID):
        problems.append(f"{where}.source: a string of 1 to {_MAX_ID} characters")
    if "note" in entry and not text_within(entry["note"], _MAX_NOTE, least=0):
        problems.append(f"{where}.note: a string of at most {_MAX_NOTE} characters")
    return problems


def _ordered(user_id: str, entries: list[dict[str, Any]]) -> list[tuple[int, dict[str, str]]]:
    """(place given, stored entry), in the ledger's order: by instant, then id."""
    docs = [(index, _entry_doc(user_id, index, entry)) for index, entry in enumerate(entries)]
    return sorted(docs, key=lambda pair: (pair[1]["at"], pair[1]["id"]))


def _entry_doc(user_id: str, index: int, entry: dict[str, Any]) -> dict[str, str]:
    doc = {
        "id": entry.get("id") or f"scenario-{short_hash(user_id, index)}",
        "at": str(instant(entry["at"])),
        "kind": entry["kind"],
        "asset": entry["asset"],
        "quantity": _amount(entry["quantity"]),
        "fee_usd": _amount(entry.get("fee_usd", 0)),
        "exchange": entry["exchange"],
        "source": entry.get("source", SOURCE),
        "note": entry.get("note", ""),
    }
    if "price_usd" in entry:
        doc["price_usd"] = _amount(entry["price_usd"])
    return doc


def _amount(value: Any) -> str:
    found = decimal(value, PLACES, MAX_AMOUNT)
    assert found is not None  # checked
    return text(found)


def _shortfalls(ordered: list[tuple[int, dict[str, str]]], where: str) -> list[str]:
    """Outgoing entries larger than what their exchange holds of the asset at their turn."""
    held: dict[Position, Decimal] = defaultdict(lambda: ZERO)
    problems = []
    for index, doc in ordered:
        position, quantity = (doc["asset"], doc["exchange"]), Decimal(doc["quantity"])
        if doc["kind"] in INCOMING:
            held[position] += quantity
        elif quantity > held[position]:
            problems.append(
                f"{where}[{index}]: a {doc['kind']} of {doc['quantity']} {doc['asset']} from {doc['exchange']}, which holds {text(held[position])} then"
            )
        else:
            held[position] -= quantity
    return problems


def entry_docs(user_id: str, entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    """A checked ledger's entries as the ledger document stores them, in its order."""
    return [doc for _, doc in _ordered(user_id, entries)]
