"""Bitpanda keys shaped at run time (a scenario's `bitpanda` member): a key's holdings as the
deposits and withdrawals of each asset at instants.

    {"keys": [{"key": "mock-api-key",
               "movements": [{"asset": "BTC", "type": "deposit", "at": "2024-01-15T10:20:00Z", "amount": "0.5"},
                             {"asset": "ETH", "type": "deposit", "at": "2024-02-01T00:00:00Z", "amount": "3"},
                             {"asset": "BTC", "type": "withdrawal", "at": "2025-06-01T09:00:00Z", "amount": "0.2"}]}]}

`key` is the `x-api-key` value: a configured key keeps its name and `forbidden` flag, any other
becomes a user of its own wherever the scenario is installed. `asset` is one of the custody
assets (holdings.CUSTODY_ASSETS); `at` an ISO 8601 instant from 2000 to 2100 (no offset: UTC);
`amount` decimal text or a JSON number above 0, with at most the sandbox's decimals of the asset
(BTC 8, ETH 9, ...). A withdrawal never takes more than the key holds at its instant. A movement
counts from the first whole hour at or after its instant (movements.py), and the key holds
nothing but what its movements add up to: every portfolio point, series, total and `in(currency:)`
is then computed from these balances and the shared prices exactly as for a generated key, on the
sandbox clock (a movement after "now" shows once the clock passes it). Installing a key again
replaces its movements.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ...sandbox.store import ApiState
from ...vocabulary import Identity, as_sent
from .. import documents_scenario, each_item_problems, listed, unknown_members
from .holdings import ASSET_BY_SYMBOL, CUSTODY_ASSETS, plain
from .keys import API, HEADER
from .movements import DEPOSIT, MAX_INSTANT_CHARS, WITHDRAWAL, Movement, instant_of, movement_of, units_of

SHAPED_KEY = "scenario-key"
MAX_KEYS, MAX_MOVEMENTS = 1000, 1000
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # what a header carries unchanged: visible ASCII
_KEY_MEMBERS = {"key", "movements"}
_MOVEMENT_MEMBERS = {"asset", "type", "at", "amount"}
_ANY_PLACES = max(asset.places for asset in CUSTODY_ASSETS)  # an amount's decimals while its asset is unknown


def check(payload: Any) -> list[str]:
    keys, problems = listed(payload, API, "keys", MAX_KEYS)
    seen: set[str] = set()
    problems.extend(each_item_problems(keys, f"{API}.keys", _key_problems, seen))
    return problems


def _key_problems(entry: Any, where: str, seen: set[str]) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: a key is an object"]
    problems = unknown_members(entry, _KEY_MEMBERS, where)
    key = entry.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        problems.append(f"{where}.key: the {HEADER} value, 1 to 200 visible ASCII characters")
    elif key in seen:
        problems.append(f"{where}.key: listed twice")
    else:
        seen.add(key)
    movements = entry.get("movements")
    if not isinstance(movements, list) or len(movements) > MAX_MOVEMENTS:
        return [*problems, f"{where}.movements: a list of at most {MAX_MOVEMENTS} movements"]
    sound: list[tuple[str, Movement]] = []
    for index, raw in enumerate(movements):
        at = f"{where}.movements[{index}]"
        found = _movement_problems(raw, at)
        problems.extend(found)
        movement = movement_of(raw) if not found else None
        if movement is not None:
            sound.append((at, movement))
    return [*problems, *_overdrawn(sound)]


def _movement_problems(raw: Any, where: str) -> list[str]:
    if not isinstance(raw, dict):
        return [f"{where}: a movement is an object"]
    problems = unknown_members(raw, _MOVEMENT_MEMBERS, where)
    symbol = raw.get("asset")
    asset = ASSET_BY_SYMBOL.get(symbol) if isinstance(symbol, str) else None
    if asset is None:
        problems.append(f"{where}.asset: one of {', '.join(ASSET_BY_SYMBOL)}")
    if raw.get("type") not in (DEPOSIT, WITHDRAWAL):
        problems.append(f"{where}.type: {DEPOSIT} or {WITHDRAWAL}")
    if instant_of(raw.get("at")) is None:
        problems.append(
            f"{where}.at: an ISO 8601 instant from 2000 to 2100 of at most {MAX_INSTANT_CHARS} characters, such as 2024-01-15T10:20:00Z"
        )
    places = asset.places if asset is not None else _ANY_PLACES
    if units_of(raw.get("amount"), places) is None:
        of = f"{asset.symbol}'s" if asset is not None else "an asset's"
        problems.append(
            f'{where}.amount: a decimal above 0 and below 10^12 (text such as "0.5", or a number), at most {places} decimals ({of})'
        )
    return problems


def _overdrawn(sound: list[tuple[str, Movement]]) -> list[str]:
    """Every withdrawal that takes more than the key holds at its instant (movements at one instant
    in the order given; a refused withdrawal is left out of the balance after it)."""
    problems = []
    held: dict[str, int] = {}
    for where, movement in sorted(sound, key=lambda pair: pair[1].ns):
        symbol, places = movement.asset.symbol, movement.asset.places
        before = held.get(symbol, 0)
        if before + movement.units >= 0:
            held[symbol] = before + movement.units
            continue
        taken, had = plain(Decimal(-movement.units).scaleb(-places)), plain(Decimal(before).scaleb(-places))
        problems.append(f"{where}.amount: withdraws {taken} {symbol} when the key holds {had} {symbol} then")
    return problems


def shaped_key(state: ApiState, key: str) -> bytes | None:
    """The document a scenario installed for a key (as stored), or None (at once while none is installed)."""
    return state.shaped(SHAPED_KEY, key)


def scenario_identity(key: str) -> Identity:
    """The user of a key only a scenario names."""
    return Identity({HEADER: as_sent(key)}, name="scenario")


SCENARIO = documents_scenario(check, "keys", SHAPED_KEY, lambda entry: entry["key"])
